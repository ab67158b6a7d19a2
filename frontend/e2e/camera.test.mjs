// The camera page in Chromium against `sense-pulse run --sim`: the simulated camera restreamed
// to HLS by real FFmpeg plays (its `currentTime` advances), and a stream that cannot be played
// says why in words, with a Retry that plays it once it can.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Stack, assertLabelled, hlsChunk, live, shot, shotEachView, waitFor } from './harness.mjs';

let stack;
const open = (path, viewport, colorScheme) => stack.open(path, viewport, colorScheme);

before(async () => {
	stack = await Stack.start();
});

after(async () => {
	await stack?.stop();
});

/** The video plays: its `currentTime` advances by `seconds` (a bounded wait, polled). */
async function plays(page, seconds = 2, timeoutMs = 40_000) {
	const video = page.getByTestId('video');
	const time = () => video.evaluate((v) => v.currentTime);
	const from = await waitFor(async () => {
		const t = await time();
		return t > 0 ? t : null;
	}, 'the video to start', timeoutMs, 100);
	const start = Date.now();
	const to = await waitFor(async () => {
		const t = await time();
		return t - from >= seconds ? t : null;
	}, `the video to play ${seconds} s`, timeoutMs, 100);
	return { from, to, ms: Date.now() - start };
}

/** No player error on screen, and none on the video element. */
async function assertNoPlayerError(page) {
	assert.equal(await page.getByTestId('player-error').count(), 0, 'a player error is shown');
	assert.equal(await page.getByTestId('video').evaluate((v) => v.error?.message ?? null), null);
}

describe('camera', () => {
	test('camera: hls.js loads only for the stream; start, play, stop', async (t) => {
		const chunk = hlsChunk();
		// No help for hls.js: this Chromium says "maybe" to HLS itself and then cannot play the
		// live playlist, so the player must pick hls.js on its own (Media Source Extensions exist).
		const { page, context, errors } = await open('/');
		const scripts = [];
		page.on('request', (r) => scripts.push(r.url()));
		await live(page);
		await page.getByRole('link', { name: 'Camera' }).click();
		await page.getByTestId('camera-start').waitFor();
		assert.equal(scripts.some((u) => u.endsWith(chunk)), false, 'no hls.js before the stream');
		const native = await page.evaluate(() => document.createElement('video').canPlayType('application/vnd.apple.mpegurl'));
		t.diagnostic(`this Chromium's canPlayType(HLS): "${native}"`);
		await page.getByTestId('camera-start').click();
		await page.locator('[data-testid="stream-status"]', { hasText: 'streaming' }).waitFor({ timeout: 40_000 });
		await page.locator('[data-testid="player"][data-engine="hls.js"]').waitFor({ timeout: 20_000 });
		const played = await plays(page);
		t.diagnostic(`currentTime ${played.from.toFixed(2)} s → ${played.to.toFixed(2)} s in ${played.ms} ms`);
		await assertNoPlayerError(page);
		// The video has played 2 s, so the stream has been up at least that long: the page says so
		// (the camera writes its uptime when its state changes; the page counts on from there).
		const uptime = page.getByTestId('stream-uptime');
		await waitFor(async () => /^([2-9]|\d\d+) s$|min|h/.test(await uptime.innerText()), 'Streaming for ≥ 2 s', 10_000, 200);
		t.diagnostic(`Streaming for: ${await uptime.innerText()}`);
		const ptz = page.getByRole('group', { name: /Pan, tilt and zoom/ });
		if (await ptz.count()) await ptz.getByRole('button', { name: 'Pan left' }).waitFor();
		await shotEachView(page, 'camera-playing');
		await page.getByTestId('camera-stop').click();
		await page.locator('[data-testid="stream-status"]', { hasText: 'stopped' }).waitFor({ timeout: 20_000 });
		assert.ok(scripts.some((u) => u.endsWith(chunk)), 'hls.js was loaded for the stream');
		assert.deepEqual(errors, []);
		await context.close();
	});

	test('camera: a stream that cannot be played says why, with Retry, which plays it once it can', async (t) => {
		const { page, context, errors } = await open('/camera');
		const playlist = '**/api/stream/stream.m3u8';
		const segments = '**/api/stream/*.ts';
		// The playlist is not there: "Waiting for the stream…" a few times, then the reason.
		await page.route(playlist, (r) => r.fulfill({ status: 404, contentType: 'text/plain', body: 'not found' }));
		await live(page);
		await page.getByTestId('camera-start').click();
		await page.locator('[data-testid="stream-status"]', { hasText: 'streaming' }).waitFor({ timeout: 40_000 });
		await page.getByRole('status').filter({ hasText: 'Waiting for the stream…' }).waitFor({ timeout: 20_000 });
		const unreachable = page.getByRole('alert').filter({ hasText: 'The video stream cannot be reached' });
		await unreachable.waitFor({ timeout: 40_000 });
		assert.match(await unreachable.innerText(), /the server answered 404 \(not found\)/);
		await shot(page, 'camera-error-desktop-dark');
		await page.unroute(playlist);
		await page.getByTestId('player').getByRole('button', { name: 'Retry' }).click();
		let played = await plays(page);
		t.diagnostic(`after Retry (404 fixed): currentTime advanced ${(played.to - played.from).toFixed(2)} s in ${played.ms} ms`);
		await assertNoPlayerError(page);

		// Segments that are not video: hls.js recovers once, then the player says it cannot decode.
		await page.route(segments, (r) => r.fulfill({ status: 200, contentType: 'video/mp2t', body: 'not a video '.repeat(2000) }));
		await page.reload();
		const undecodable = page.getByRole('alert').filter({ hasText: "This browser cannot decode the camera's video." });
		await undecodable.waitFor({ timeout: 90_000 });
		await shot(page, 'camera-undecodable-desktop-dark');
		await page.unroute(segments);
		await page.getByTestId('player').getByRole('button', { name: 'Retry' }).click();
		played = await plays(page);
		t.diagnostic(`after Retry (segments fixed): currentTime advanced ${(played.to - played.from).toFixed(2)} s in ${played.ms} ms`);
		await assertNoPlayerError(page);
		await assertLabelled(page);
		await page.getByTestId('camera-stop').click();
		await page.locator('[data-testid="stream-status"]', { hasText: 'stopped' }).waitFor({ timeout: 20_000 });
		assert.deepEqual(errors, []);
		await context.close();
	});
});
