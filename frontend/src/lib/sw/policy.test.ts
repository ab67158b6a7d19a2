import { describe, expect, test } from 'vitest';
import {
	API_CACHE,
	OFFLINE_API,
	SAVED_AT_HEADER,
	clearsApi,
	keepable,
	onApiAnswer,
	savedAt,
	shellCache,
	shellPaths,
	strategy
} from './policy';

const origin = 'https://pi.example.com';
const shell = new Set(shellPaths(['/_app/immutable/entry/app.abc.js', '/_app/version.json'], ['/favicon.svg', '/manifest.webmanifest']));
const get = (path: string, mode = 'cors') => ({ method: 'GET', url: origin + path, mode });
const answer = (status: number, headers: Record<string, string> = {}, type = 'basic') => ({
	status,
	type,
	headers: new Headers(headers)
});

describe('service worker policy', () => {
	test('the shell is the built files, the static ones and / (the SPA), each once', () => {
		expect(shellPaths(['/_app/a.js'], ['/favicon.svg', '/_app/a.js'])).toEqual(['/', '/_app/a.js', '/favicon.svg']);
		expect(strategy(get('/_app/immutable/entry/app.abc.js'), origin, shell)).toBe('shell');
		expect(strategy(get('/manifest.webmanifest'), origin, shell)).toBe('shell');
		// A file the build does not have goes to the network.
		expect(strategy(get('/_app/immutable/other.js'), origin, shell)).toBe('network');
	});

	test('a page load (any route) is a navigation: the network, else the cached shell', () => {
		for (const path of ['/', '/alerts', '/settings/display']) expect(strategy(get(path, 'navigate'), origin, shell)).toBe('page');
	});

	test('only the sources, the alerts and the session are kept for offline, query ignored', () => {
		expect([...OFFLINE_API].sort()).toEqual(['/api/alerts', '/api/session', '/api/sources']);
		for (const path of OFFLINE_API) expect(strategy(get(path), origin, shell)).toBe('api');
		expect(strategy(get('/api/sources?x=1'), origin, shell)).toBe('api');
		for (const path of ['/api/sources/system', '/api/config', '/api/history/system/cpu_percent', '/health', '/metrics'])
			expect(strategy(get(path), origin, shell), path).toBe('network');
	});

	test('never the camera stream, the WebSockets, writes or another origin', () => {
		for (const path of ['/api/stream/stream.m3u8', '/api/stream/segment_00001.ts', '/ws/sources?mode=delta', '/ws/grid'])
			expect(strategy(get(path), origin, shell), path).toBe('network');
		// Even navigated to, an API path is not the shell.
		expect(strategy(get('/api/stream/stream.m3u8', 'navigate'), origin, shell)).toBe('network');
		expect(strategy({ method: 'POST', url: `${origin}/api/sources` }, origin, shell)).toBe('network');
		expect(strategy({ method: 'HEAD', url: `${origin}/_app/version.json` }, origin, shell)).toBe('network');
		expect(strategy({ method: 'GET', url: 'https://evil.example/api/sources' }, origin, shell)).toBe('network');
		expect(strategy({ method: 'GET', url: 'not a url' }, origin, shell)).toBe('network');
	});

	test('signing in or out clears the kept answers (they are the last person’s)', () => {
		expect(clearsApi({ method: 'POST', url: `${origin}/api/login` }, origin)).toBe(true);
		expect(clearsApi({ method: 'POST', url: `${origin}/api/logout` }, origin)).toBe(true);
		expect(clearsApi({ method: 'POST', url: 'https://evil.example/api/logout' }, origin)).toBe(false);
		expect(clearsApi(get('/api/sources'), origin)).toBe(false);
	});

	test('an answer is kept only when a same-origin 200; a 401 clears them all', () => {
		expect(keepable(answer(200, { 'content-type': 'application/json' }))).toBe(true);
		// Every API answer of the gateway says no-store (for HTTP caches): the offline copy is the app's own.
		expect(keepable(answer(200, { 'cache-control': 'no-store' }))).toBe(true);
		expect(keepable(answer(200, {}, 'opaque'))).toBe(false);
		expect(keepable(answer(200, {}, 'cors'))).toBe(false);
		expect(onApiAnswer(answer(200))).toBe('keep');
		expect(onApiAnswer(answer(401))).toBe('clear');
		expect(onApiAnswer(answer(403))).toBe('clear');
		// The bus down (503), no alert engine (404): the last good answer stays.
		expect(onApiAnswer(answer(503))).toBe('leave');
		expect(onApiAnswer(answer(404))).toBe('leave');
	});

	test('a kept answer says when it was saved; a live one says nothing', () => {
		expect(savedAt(new Headers({ [SAVED_AT_HEADER]: '1708000300.5' }))).toBe(1708000300.5);
		expect(savedAt(new Headers())).toBeNull();
		expect(savedAt(new Headers({ [SAVED_AT_HEADER]: 'soon' }))).toBeNull();
		expect(savedAt(undefined)).toBeNull();
	});

	test('the shell’s cache is per build; the kept answers outlive an update', () => {
		expect(shellCache('123')).not.toBe(shellCache('124'));
		expect(API_CACHE).not.toContain('123');
	});
});
