// The camera player in jsdom, with a fake hls.js: which engine it picks, and what a user sees
// when the stream cannot be played (words, a Retry button), with fake timers for its waits.
import { flushSync, mount, unmount } from 'svelte';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import type HlsJs from 'hls.js/light';
import HlsPlayer from './HlsPlayer.svelte';

type Handler = (event: string, data: any) => void;

/** Just what the player uses of hls.js; records what it was asked. */
class FakeHls {
	static Events = { MANIFEST_PARSED: 'hlsManifestParsed', ERROR: 'hlsError' };
	static supported = true;
	static isSupported = () => FakeHls.supported;
	static made: FakeHls[] = [];
	handlers = new Map<string, Handler>();
	source: string | null = null;
	media: HTMLMediaElement | null = null;
	destroyed = false;
	recoveries = 0;
	constructor() {
		FakeHls.made.push(this);
	}
	on(event: string, fn: Handler) {
		this.handlers.set(event, fn);
	}
	emit(event: string, data: any = {}) {
		this.handlers.get(event)?.(event, data);
		flushSync();
	}
	loadSource(src: string) {
		this.source = src;
	}
	attachMedia(media: HTMLMediaElement) {
		this.media = media;
	}
	destroy() {
		this.destroyed = true;
	}
	recoverMediaError() {
		this.recoveries += 1;
	}
}

const SRC = '/api/stream/stream.m3u8';
const loadHls = vi.fn(async () => FakeHls as unknown as typeof HlsJs);
let target: HTMLElement;
let component: ReturnType<typeof mount> | null = null;
let canPlayHls = '';

beforeEach(() => {
	vi.useFakeTimers();
	FakeHls.made = [];
	FakeHls.supported = true;
	loadHls.mockClear();
	canPlayHls = '';
	vi.spyOn(HTMLMediaElement.prototype, 'canPlayType').mockImplementation((type: string) =>
		/mpegurl/i.test(type) ? (canPlayHls as CanPlayTypeResult) : ''
	);
	vi.spyOn(HTMLMediaElement.prototype, 'play').mockResolvedValue(undefined);
	vi.spyOn(HTMLMediaElement.prototype, 'load').mockImplementation(() => {});
	vi.stubGlobal('MediaSource', class {});
});

afterEach(() => {
	if (component) unmount(component);
	component = null;
	target?.remove();
	vi.useRealTimers();
	vi.restoreAllMocks();
	vi.unstubAllGlobals();
});

/** Mounts the player and lets its start (the import of hls.js) settle. */
async function render(props: Record<string, unknown> = {}) {
	target = document.createElement('div');
	document.body.append(target);
	component = mount(HlsPlayer, { target, props: { src: SRC, loadHls, retries: 2, retryMs: 1000, stallMs: 5000, ...props } });
	await settle();
	return target;
}

async function settle(ms = 0) {
	await vi.advanceTimersByTimeAsync(ms);
	flushSync();
}

const player = () => target.querySelector<HTMLElement>('[data-testid="player"]')!;
const video = () => target.querySelector('video')!;
const statusText = () => target.querySelector('[role="status"]')!.textContent!.trim();
const alertText = () => target.querySelector('[role="alert"]')?.textContent?.trim() ?? null;
const retryButton = () => target.querySelector<HTMLButtonElement>('[data-testid="player-retry"]');
const last = () => FakeHls.made.at(-1)!;
const playing = () => {
	video().dispatchEvent(new Event('playing'));
	flushSync();
};
const notFound = { type: 'networkError', details: 'manifestLoadError', fatal: true, response: { code: 404 } };

describe('HlsPlayer: which engine', () => {
	test('hls.js where MSE exists, even when the browser says it may play HLS itself (Chromium)', async () => {
		canPlayHls = 'maybe';
		await render();
		expect(player().dataset.engine).toBe('hls.js');
		expect(FakeHls.made).toHaveLength(1);
		expect(last().source).toBe(SRC);
		expect(last().media).toBe(video());
		expect(video().getAttribute('src')).toBeNull();
		expect(statusText()).toBe('Loading the stream…');
		last().emit('hlsManifestParsed');
		playing();
		expect(statusText()).toBe('');
		expect(alertText()).toBeNull();
	});

	test('ManagedMediaSource (iOS 17.1+) counts as MSE', async () => {
		vi.unstubAllGlobals();
		vi.stubGlobal('ManagedMediaSource', class {});
		canPlayHls = 'maybe';
		await render();
		expect(player().dataset.engine).toBe('hls.js');
	});

	test('the browser’s own HLS only where there is no MSE, and hls.js is not loaded', async () => {
		vi.unstubAllGlobals();
		canPlayHls = 'maybe';
		await render();
		expect(player().dataset.engine).toBe('native');
		expect(loadHls).not.toHaveBeenCalled();
		expect(video().getAttribute('src')).toBe(SRC);
	});

	test('neither: said in words, with Retry', async () => {
		vi.unstubAllGlobals();
		await render();
		expect(alertText()).toBe("This browser cannot play the camera's video stream.");
		expect(retryButton()).not.toBeNull();
	});
});

describe('HlsPlayer: errors', () => {
	test('a playlist not there: "Waiting for the stream…", a bounded number of times, then the error with Retry; Retry plays', async () => {
		await render();
		last().emit('hlsError', notFound);
		expect(statusText()).toBe('Waiting for the stream…');
		expect(alertText()).toBeNull();
		expect(last().destroyed).toBe(true);
		await settle(1000);
		expect(FakeHls.made).toHaveLength(2);
		last().emit('hlsError', notFound);
		await settle(1000);
		expect(FakeHls.made).toHaveLength(3);
		// The retries are used up: no endless spinner.
		last().emit('hlsError', notFound);
		expect(alertText()).toBe('The video stream cannot be reached: the server answered 404 (not found).');
		expect(statusText()).toBe('');
		expect(player().dataset.phase).toBe('failed');
		await settle(10_000);
		expect(FakeHls.made).toHaveLength(3);

		retryButton()!.click();
		await settle();
		expect(FakeHls.made).toHaveLength(4);
		expect(alertText()).toBeNull();
		expect(statusText()).toBe('Loading the stream…');
		last().emit('hlsManifestParsed');
		playing();
		expect(player().dataset.phase).toBe('playing');
		expect(retryButton()).toBeNull();
	});

	test('a fatal media error is recovered from once; the next is shown', async () => {
		await render();
		const hls = last();
		hls.emit('hlsManifestParsed');
		playing();
		const media = { type: 'mediaError', details: 'bufferAppendError', fatal: true };
		hls.emit('hlsError', media);
		expect(hls.recoveries).toBe(1);
		expect(alertText()).toBeNull();
		hls.emit('hlsError', media);
		expect(hls.recoveries).toBe(1);
		expect(alertText()).toBe("This browser cannot decode the camera's video.");
	});

	test('non-fatal errors change nothing', async () => {
		await render();
		last().emit('hlsError', { type: 'mediaError', details: 'bufferStalledError', fatal: false });
		expect(alertText()).toBeNull();
		expect(statusText()).toBe('Loading the stream…');
	});

	test('a video that never advances: "the camera stopped", or "cannot decode" after parse errors', async () => {
		await render();
		last().emit('hlsManifestParsed');
		await settle(4999);
		expect(alertText()).toBeNull();
		await settle(1);
		expect(alertText()).toBe('The camera stopped sending video.');

		retryButton()!.click();
		await settle();
		last().emit('hlsManifestParsed');
		last().emit('hlsError', { type: 'mediaError', details: 'fragParsingError', fatal: false });
		await settle(5000);
		expect(alertText()).toBe("This browser cannot decode the camera's video.");
	});

	test('a video paused by its user is not a stopped camera', async () => {
		await render();
		last().emit('hlsManifestParsed');
		playing();
		await settle(20_000);
		expect(alertText()).toBeNull();
	});

	test('where the browser will not start the video by itself, it says to press play', async () => {
		vi.spyOn(HTMLMediaElement.prototype, 'play').mockRejectedValue(new DOMException('no autoplay', 'NotAllowedError'));
		await render();
		last().emit('hlsManifestParsed');
		await settle();
		expect(statusText()).toBe('Press play to start the video.');
		await settle(20_000);
		expect(alertText()).toBeNull();
	});

	test('the browser’s own player: an error is retried, then the playlist is asked why', async () => {
		vi.unstubAllGlobals();
		const fetch = vi.fn(async () => new Response('no', { status: 404 }));
		vi.stubGlobal('fetch', fetch);
		canPlayHls = 'maybe';
		await render({ retries: 1 });
		const fail = (code: number) => {
			Object.defineProperty(video(), 'error', { configurable: true, get: () => ({ code }) });
			video().dispatchEvent(new Event('error'));
			flushSync();
		};
		fail(4);
		expect(statusText()).toBe('Waiting for the stream…');
		await settle(1000);
		expect(video().getAttribute('src')).toBe(SRC);
		fail(4);
		await settle();
		expect(fetch).toHaveBeenCalledOnce();
		expect(alertText()).toBe('The video stream cannot be reached: the server answered 404 (not found).');
	});

	test('unmounted while waiting: nothing more is loaded', async () => {
		await render();
		last().emit('hlsError', notFound);
		unmount(component!);
		component = null;
		await settle(5000);
		expect(FakeHls.made).toHaveLength(1);
	});
});
