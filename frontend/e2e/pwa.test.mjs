// The installable dashboard: the manifest and its icons, the service worker taking control, the
// app opened offline with the last values it saw and saying so (never "Live"); and a gateway
// without alerts (404, served with page.route: the binary has them) showing nothing about them.
// The alerts themselves are tested against the real engine in alerts.test.mjs.
//
//   npm run build && SENSE_PULSE_BIN=target/debug/sense-pulse node --test e2e/pwa.test.mjs
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Stack, WIDE, live, waitFor } from './harness.mjs';

let stack;

before(async () => {
	stack = await Stack.start();
});

after(async () => {
	await stack?.stop();
});

/** Width and height of a PNG, from its IHDR. */
function pngSize(bytes) {
	assert.deepEqual([...bytes.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'a PNG');
	const view = new DataView(bytes.buffer, bytes.byteOffset);
	return `${view.getUint32(16)}x${view.getUint32(20)}`;
}

/** The page's service worker has taken control (the first load is claimed by it). */
async function controlled(page) {
	await page.evaluate(() => navigator.serviceWorker.ready);
	await waitFor(() => page.evaluate(() => navigator.serviceWorker.controller !== null), 'the service worker controls the page');
}

describe('installable', () => {
	test('the manifest is linked, served as a manifest, with the required members and icons that load', async () => {
		const { page, context, errors } = await stack.open('/', WIDE);
		await live(page);
		const href = await page.locator('link[rel="manifest"]').getAttribute('href');
		const url = new URL(href, `${stack.base}/`).href;
		const r = await fetch(url);
		assert.equal(r.status, 200);
		assert.equal(r.headers.get('content-type'), 'application/manifest+json');
		const manifest = await r.json();
		assert.equal(manifest.name, 'Sense Pulse');
		assert.ok(manifest.short_name && manifest.short_name.length <= 12, 'a short name that fits under an icon');
		assert.equal(manifest.start_url, '/');
		assert.equal(manifest.scope, '/');
		assert.equal(manifest.display, 'standalone');
		assert.match(manifest.background_color, /^#[0-9a-f]{6}$/i);
		assert.match(manifest.theme_color, /^#[0-9a-f]{6}$/i);
		const pngs = manifest.icons.filter((i) => i.type === 'image/png');
		const has = (sizes, purpose) => pngs.some((i) => i.sizes === sizes && (i.purpose ?? 'any').split(' ').includes(purpose));
		assert.ok(has('192x192', 'any') && has('512x512', 'any') && has('512x512', 'maskable'), 'icons 192, 512 and maskable');
		for (const icon of pngs) {
			const got = await fetch(new URL(icon.src, url));
			assert.equal(got.status, 200, icon.src);
			assert.equal(got.headers.get('content-type'), 'image/png', icon.src);
			assert.equal(pngSize(new Uint8Array(await got.arrayBuffer())), icon.sizes, icon.src);
		}
		// The bar's colour in each scheme, and the worker's script served as JavaScript.
		const themes = await page.locator('meta[name="theme-color"]').evaluateAll((ms) => ms.map((m) => m.media));
		assert.deepEqual(themes.sort(), ['(prefers-color-scheme: dark)', '(prefers-color-scheme: light)']);
		const sw = await fetch(`${stack.base}/service-worker.js`);
		assert.match(sw.headers.get('content-type'), /javascript/);
		// no-cache comes with this branch's gateway (its Rust test); an older binary says max-age.
		assert.doesNotMatch(sw.headers.get('cache-control') ?? '', /immutable/);
		assert.deepEqual(errors, []);
		await context.close();
	});

	test('the service worker registers and controls the page, after a reload too', async () => {
		const { page, context, errors } = await stack.open('/', WIDE);
		await live(page);
		const script = await page.evaluate(() => navigator.serviceWorker.ready.then((r) => r.active?.scriptURL));
		assert.equal(script, `${stack.base}/service-worker.js`);
		await page.reload();
		await live(page);
		assert.equal(await page.evaluate(() => navigator.serviceWorker.controller?.scriptURL), script);
		assert.deepEqual(errors, []);
		await context.close();
	});

	test('offline, it opens with the last values and says it is offline and since when, never Live', async () => {
		const { page, context, errors } = await stack.open('/', WIDE);
		await live(page);
		await controlled(page);
		// Loaded once under the worker: it keeps that load's answers.
		await page.reload();
		await live(page);
		const kept = await waitFor(
			() =>
				page.evaluate(async () => {
					const r = await caches.match('/api/sources', { cacheName: 'sense-pulse-api' });
					return r ? { at: Number(r.headers.get('x-sense-pulse-saved-at')), body: await r.json() } : null;
				}),
			'the kept /api/sources'
		);
		const cpu = kept.body.system.readings.cpu_percent.value;
		const savedAt = await page.evaluate(
			(t) => new Date(t * 1000).toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit' }),
			kept.at
		);

		await context.setOffline(true);
		await page.reload();
		const connection = page.getByTestId('connection');
		await waitFor(async () => (await connection.innerText()).includes('Offline'), 'the header saying Offline');
		assert.doesNotMatch(await connection.innerText(), /Live/);
		const banner = page.getByTestId('frozen-banner');
		// The banner follows the header within a render or two: wait for it, then read it.
		const frozenText = new RegExp(`Data frozen since ${savedAt} — offline: the values saved on this device\\.`);
		await waitFor(async () => frozenText.test(await banner.innerText()), 'the banner saying offline since when').catch(() => {});
		assert.match(await banner.innerText(), frozenText);
		assert.match(await banner.innerText(), /not live/);
		// The shell and the last values, as kept.
		const row = page.locator('[data-testid="card-system"] [data-sensor="cpu_percent"]');
		assert.equal(Number(await row.getAttribute('data-value')), cpu);
		await page.getByTestId('summary-pi').waitFor();

		// Back online: live again by itself.
		await context.setOffline(false);
		await live(page);
		assert.equal(await page.getByTestId('frozen-banner').innerText(), '');
		assert.deepEqual(errors.filter((e) => !/ERR_INTERNET_DISCONNECTED|WebSocket/.test(e)), []);
		await context.close();
	});
});

/** A page whose `/api/alerts` is `answer` (no service worker: page.route sees every request). */
async function withAlerts(path, viewport, answer) {
	const context = await stack.browser.newContext({ viewport, colorScheme: 'dark', serviceWorkers: 'block' });
	const page = await context.newPage();
	const errors = [];
	page.on('pageerror', (e) => errors.push(e.message));
	page.on('console', (m) => m.type() === 'error' && !/Failed to load resource/.test(m.text()) && errors.push(m.text()));
	await page.route('**/api/alerts', (route) => route.fulfill(answer()));
	const answered = page.waitForResponse('**/api/alerts');
	await page.goto(stack.base + path);
	return { page, context, errors, answered };
}

describe('alerts absent (a gateway without them: /api/alerts served by page.route)', () => {
	test('a gateway without alerts (404) shows nothing about them', async () => {
		const { page, context, errors, answered } = await withAlerts('/', WIDE, () => ({
			status: 404,
			json: { error: 'no endpoint GET /api/alerts' }
		}));
		await live(page);
		await page.getByTestId('summary-pi').waitFor();
		await answered;
		// The answer is applied by the next frame.
		await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
		assert.equal(await page.getByTestId('alerts-banner').innerText(), '');
		assert.equal(await page.getByTestId('summary-alerts').count(), 0);
		assert.deepEqual(errors, []);
		await context.close();
	});
});
