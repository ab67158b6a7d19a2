/// <reference no-default-lib="true"/>
/// <reference lib="esnext" />
/// <reference lib="webworker" />
/// <reference types="@sveltejs/kit" />
// The dashboard's service worker: the installed app opens offline, with the last values it saw,
// and says they are old (the policy, and why, is in $lib/sw/policy.ts, unit-tested). SvelteKit
// registers it (served as /service-worker.js, revalidated on every load by the gateway).
import { build, files, version } from '$service-worker';
import {
	API_CACHE,
	SAVED_AT_HEADER,
	clearsApi,
	onApiAnswer,
	shellCache,
	shellPaths,
	strategy
} from '$lib/sw/policy';

const sw = self as unknown as ServiceWorkerGlobalScope;
const SHELL = shellCache(version);
const paths = shellPaths(build, files);
const shell = new Set(paths);

sw.addEventListener('install', (event) => {
	event.waitUntil(
		caches
			.open(SHELL)
			.then((cache) => cache.addAll(paths))
			.then(() => sw.skipWaiting())
	);
});

sw.addEventListener('activate', (event) => {
	event.waitUntil(
		caches
			.keys()
			.then((keys) =>
				Promise.all(keys.filter((k) => k !== SHELL && k !== API_CACHE).map((k) => caches.delete(k)))
			)
			.then(() => sw.clients.claim())
	);
});

/** The page asks to forget the kept answers (it signed out). */
sw.addEventListener('message', (event) => {
	if (event.data?.type === 'clear-api') event.waitUntil(caches.delete(API_CACHE));
});

async function fromShell(request: Request): Promise<Response> {
	const cached = await caches.match(request, { cacheName: SHELL, ignoreSearch: true });
	return cached ?? fetch(request);
}

async function page(request: Request): Promise<Response> {
	try {
		return await fetch(request);
	} catch (e) {
		const cached = await caches.match('/', { cacheName: SHELL });
		if (cached) return cached;
		throw e;
	}
}

async function api(request: Request): Promise<Response> {
	const key = new URL(request.url).pathname;
	let response: Response;
	try {
		response = await fetch(request);
	} catch (e) {
		const kept = await caches.match(key, { cacheName: API_CACHE });
		if (kept) return kept;
		throw e;
	}
	const what = onApiAnswer(response);
	if (what === 'clear') await caches.delete(API_CACHE);
	else if (what === 'keep') {
		// Kept with when it was saved: served offline, it says how old it is.
		const body = await response.clone().arrayBuffer();
		const headers = new Headers(response.headers);
		headers.set(SAVED_AT_HEADER, String(Date.now() / 1000));
		// The body is kept decoded: its length and encoding are no longer the network's.
		headers.delete('content-encoding');
		headers.delete('content-length');
		const cache = await caches.open(API_CACHE);
		await cache.put(key, new Response(body, { status: 200, headers }));
	}
	return response;
}

sw.addEventListener('fetch', (event) => {
	const { request } = event;
	if (clearsApi(request, sw.location.origin)) {
		// Whoever signs in or out: the answers kept for the last one go.
		event.waitUntil(caches.delete(API_CACHE));
		return;
	}
	switch (strategy(request, sw.location.origin, shell)) {
		case 'shell':
			return event.respondWith(fromShell(request));
		case 'page':
			return event.respondWith(page(request));
		case 'api':
			return event.respondWith(api(request));
		default:
			return;
	}
});
