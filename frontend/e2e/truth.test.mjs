// What the dashboard says when something is away or not there yet (issue 15, items 1 and 4), as a
// person sees it: the data bus (a real redis-server) killed and restarted empty, the gateway
// unreachable, a first run, a camera that is off, the LED matrix asleep, a simulated stack.
//
//   npm run build && SENSE_PULSE_BIN=target/debug/sense-pulse node --test e2e/truth.test.mjs
//
// Screenshots of each state at 1280 and 390 px, light and dark, in artifacts/screenshots/truth-*.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DESKTOP, Redis, Stack, WIDE, assertFits, assertLabelled, inEachView, live, shot, waitFor } from './harness.mjs';

/** Screenshots of the page as it is, at 1280 and 390 px, light and dark; at 390 px it must fit
 *  without sideways scrolling. */
async function shots(page, name) {
	await inEachView(page, async (view) => {
		await shot(page, `truth-${name}-${view.name}`);
		if (view.viewport.width < WIDE.width) await assertFits(page, view.viewport.width);
	});
}

const elapsed = (t0) => Date.now() - t0;
const banner = (page) => page.getByTestId('frozen-banner');
const header = (page) => page.getByTestId('connection');

/** Every card of the overview with its state, badge and first value, by card id. */
async function cards(page) {
	return page.locator('[data-testid^="card-"]').evaluateAll((els) =>
		Object.fromEntries(
			els.map((el) => [
				el.dataset.testid.slice('card-'.length),
				{
					state: el.dataset.availability,
					badge: el.querySelector('[data-testid="badge"]')?.textContent?.trim(),
					value: el.querySelector('[data-value]')?.getAttribute('data-value') ?? null,
					ts: Number(el.querySelector('[data-ts]')?.getAttribute('data-ts') ?? 0),
					text: el.innerText
				}
			])
		)
	);
}

const CORE = ['sensors', 'weather', 'system', 'pihole', 'tailscale'];

/** The cards showing a source's values: the five above and each Aranet4 monitor heard (one
 *  that was not heard, the simulated garage, has none to keep). */
const VALUE_CARDS = (all) =>
	Object.keys(all).filter(
		(id) => (CORE.includes(id) || id.startsWith('co2-')) && all[id].state === 'available' && all[id].value !== null
	);

/** Every card with values is live: the five and at least one monitor. */
const allLive = (all) => {
	const ids = VALUE_CARDS(all);
	return CORE.every((id) => ids.includes(id)) && ids.some((id) => id.startsWith('co2-'));
};

/** Nothing on the page blames a source. */
async function assertNoSourceBlamed(page) {
	const text = await page.locator('main').innerText();
	assert.doesNotMatch(text, /unavailable|no status from it/i, 'a source is blamed');
}

/** What the frozen page must show: the banner's words, the header not live, every card with a
 *  value marked frozen (the same value as `kept`, if given), nobody blamed. Returns the cards. */
async function assertFrozen(page, words, ids, kept = null) {
	const text = await banner(page).innerText();
	assert.match(text, new RegExp(`Data frozen since \\d\\d:\\d\\d — ${words}`), text);
	assert.doesNotMatch(await header(page).innerText(), /Live/);
	assert.match(await header(page).innerText(), /Frozen/);
	const now = await cards(page);
	for (const id of ids) {
		assert.equal(now[id]?.state, 'frozen', `${id}: ${JSON.stringify(now[id])}`);
		assert.equal(now[id].badge, 'frozen', id);
		assert.notEqual(now[id].value, null, `${id} shows a value`);
		if (kept) assert.equal(now[id].value, kept[id].value, `${id} keeps its last value`);
	}
	await assertNoSourceBlamed(page);
	return now;
}

describe('the data bus and the gateway go away and come back', () => {
	/** @type {Redis} */
	let redis;
	/** @type {Stack} */
	let stack;

	before(async () => {
		redis = await Redis.start();
		stack = await Stack.start({ redis: redis.url });
	});

	after(async () => {
		await stack?.stop();
		await redis?.close();
	});

	test('Redis killed: within 5 s a banner says the data bus is unreachable, values stay marked frozen; back empty: live within 3 s', async () => {
		const { page, context, errors } = await stack.open('/');
		await live(page);
		let before;
		await waitFor(async () => allLive((before = await cards(page))), 'every card live with a value');
		assert.equal((await banner(page).innerText()).trim(), '', 'no banner while live');

		const killed = Date.now();
		await redis.stop();
		await waitFor(async () => /the data bus is unreachable/.test(await banner(page).innerText()), 'the banner', 5000, 50);
		const bannerAfter = elapsed(killed);
		await waitFor(async () => (await cards(page)).system?.state === 'frozen', 'the cards frozen', 5000 - elapsed(killed), 50);
		const ids = VALUE_CARDS(before);
		const frozen = await assertFrozen(page, 'the data bus is unreachable', ids);
		assert.equal(await banner(page).getAttribute('role'), 'alert');
		await assertLabelled(page);
		await shots(page, 'bus-down');

		// A reload while it is down: the same, and still no source blamed.
		await page.reload();
		const reloaded = Date.now();
		await waitFor(async () => /the data bus is unreachable/.test(await banner(page).innerText()), 'the banner after a reload', 5000, 50);
		await waitFor(async () => (await cards(page)).system?.state === 'frozen', 'the cards frozen after a reload', 5000, 50);
		const reloadBanner = elapsed(reloaded);
		await assertFrozen(page, 'the data bus is unreachable', ids, frozen);
		await shots(page, 'bus-down-reloaded');

		// The Status page says the same: every source frozen, none stale or unavailable.
		await page.getByRole('link', { name: 'Status', exact: true }).first().click();
		const states = () => page.locator('[data-testid^="status-"] [data-testid="state"]').allInnerTexts();
		await waitFor(async () => {
			const shown = await states();
			return shown.length > 0 && shown.every((s) => s.trim() === 'frozen');
		}, 'every Status row frozen', 5000, 50);
		await shots(page, 'bus-down-status');
		await page.getByRole('link', { name: 'Overview', exact: true }).first().click();
		await waitFor(async () => (await cards(page)).system?.state === 'frozen', 'the cards frozen again', 5000, 50);

		// Back, empty (a crash without persistence): live again, every value back, fresh ones
		// included for sources polled every 30 s and 300 s (weather), without waiting for their turn.
		await redis.start();
		const back = Date.now();
		const backUnix = back / 1000;
		await waitFor(async () => (await banner(page).innerText()).trim() === '', 'the banner gone', 3000, 50);
		const bannerGone = elapsed(back);
		await waitFor(async () => /Live/.test(await header(page).innerText()), 'the header live', 3000 - elapsed(back), 50);
		let now;
		await waitFor(
			async () => {
				now = await cards(page);
				return VALUE_CARDS(before).every((id) => now[id]?.state === 'available' && now[id].value !== null);
			},
			'every card live with a value',
			Math.max(0, 3000 - elapsed(back)),
			50
		);
		const valuesBack = elapsed(back);
		await waitFor(
			async () => {
				now = await cards(page);
				return ['sensors', 'system', 'weather', 'pihole', 'tailscale'].every((id) => now[id].ts > backUnix - 0.5);
			},
			'fresh readings of sensors, system, weather, pihole and tailscale',
			Math.max(0, 3000 - elapsed(back)),
			50
		);
		const freshBack = elapsed(back);
		await assertNoSourceBlamed(page);
		await shots(page, 'bus-back');
		console.log(
			`measured: banner ${bannerAfter} ms after Redis was killed (${reloadBanner} ms after a reload); ` +
				`after it came back empty: banner gone in ${bannerGone} ms, every card live with a value in ${valuesBack} ms, ` +
				`fresh readings of the scheduled sources in ${freshBack} ms`
		);
		assert.deepEqual(errors, []);
		await context.close();
	});

	test('the gateway unreachable: within 5 s a banner says so, values stay marked frozen; back: live within 3 s', async () => {
		const context = await stack.browser.newContext({ viewport: DESKTOP, colorScheme: 'dark' });
		// The way to the gateway can be cut: its WebSocket then goes silent (as when Wi-Fi or the
		// Pi goes away: no close ever comes), new ones are refused, and so is HTTP.
		let cut = false;
		await context.routeWebSocket(/\/ws\//, (ws) => {
			if (cut) {
				ws.close();
				return;
			}
			const server = ws.connectToServer();
			server.onMessage((m) => {
				if (!cut) ws.send(m);
			});
			ws.onMessage((m) => {
				if (!cut) server.send(m);
			});
		});
		await context.route(/\/(api|health)\//, (route) => (cut ? route.abort('internetdisconnected') : route.continue()));
		const page = await context.newPage();
		const errors = [];
		page.on('pageerror', (e) => errors.push(e.message));
		await page.goto(stack.base + '/');
		await live(page);
		let before;
		await waitFor(async () => allLive((before = await cards(page))), 'every card live with a value');

		cut = true;
		const gone = Date.now();
		await waitFor(async () => /server is unreachable/.test(await banner(page).innerText()), 'the banner', 5000, 50);
		const bannerAfter = elapsed(gone);
		await assertFrozen(page, "the dashboard's server is unreachable", VALUE_CARDS(before));
		await assertLabelled(page);
		await shots(page, 'gateway-gone');

		// Back: the browser says it is online again, and the dashboard reconnects at once.
		await context.setOffline(true);
		cut = false;
		const back = Date.now();
		await context.setOffline(false);
		await waitFor(async () => (await banner(page).innerText()).trim() === '', 'the banner gone', 3000, 50);
		await waitFor(async () => /Live/.test(await header(page).innerText()), 'the header live', 3000 - elapsed(back), 50);
		await waitFor(
			async () => {
				const now = await cards(page);
				return VALUE_CARDS(before).every((id) => now[id]?.state === 'available');
			},
			'every card live',
			Math.max(0, 3000 - elapsed(back)),
			50
		);
		const liveAgain = elapsed(back);
		console.log(`measured: gateway unreachable said ${bannerAfter} ms after the cut; live again ${liveAgain} ms after it was back`);
		assert.deepEqual(errors, []);
		await context.close();
	});
});

describe('first run, idle and simulated', () => {
	/** @type {Stack} */
	let stack;
	const hour = new Date().getHours();
	// The display sleeps from an hour ago to two hours from now (the stack's local time is ours).
	const sleepStart = (hour + 23) % 24;
	const sleepEnd = (hour + 2) % 24;
	const until = `${String(sleepEnd).padStart(2, '0')}:00`;

	before(async () => {
		stack = await Stack.start({
			// co2 listens 60 s for its monitors: its first poll is still under way during the tests.
			env: { ARANET4_TIMEOUT: '60', SLEEP_START: String(sleepStart), SLEEP_END: String(sleepEnd) },
			sources: ['sensors', 'system', 'weather', 'pihole', 'tailscale']
		});
	});

	after(async () => {
		await stack?.stop();
	});

	test('a source in its first poll is waiting for it; the camera is off; the stack says it is simulated', async () => {
		const { page, context, errors } = await stack.open('/');
		await live(page);
		const polling = (await stack.api('/api/sources/co2')).body;
		assert.deepEqual(polling.readings, {}, 'co2 has not written yet');
		assert.equal(polling.status.poll_count, 0, 'its first poll is under way');
		const co2 = page.getByTestId('card-co2');
		await waitFor(async () => (await co2.getAttribute('data-availability')) === 'waiting', 'co2 waiting', 5000);
		assert.match(await co2.innerText(), /Waiting for the first poll\./);
		assert.equal(await co2.getByTestId('badge').innerText(), 'waiting');

		const camera = page.getByTestId('card-camera');
		assert.equal(await camera.getAttribute('data-availability'), 'off');
		assert.equal(await camera.getByTestId('badge').innerText(), 'off');
		assert.match(await camera.innerText(), /Off\. The stream runs only when started/);
		await assertNoSourceBlamed(page);

		const badge = page.getByTestId('simulated-badge');
		assert.equal(await badge.innerText(), 'Simulated');

		// The compensated temperature is never a bare dash: a value, or why there is none.
		const compensated = page.locator('[data-testid="card-sensors"] [data-sensor="temperature_compensated"]');
		const why = page.getByTestId('compensated-why');
		await waitFor(
			async () => (await compensated.getAttribute('data-value')) !== null || (await why.count()) === 1,
			'a compensated temperature, or why not'
		);
		await assertLabelled(page);
		await shots(page, 'first-poll');
		assert.deepEqual(errors, []);
		await context.close();
	});

	test('the LED matrix asleep says until when, and Wake wakes it', async () => {
		const { page, context, errors } = await stack.open('/');
		await live(page);
		const card = page.getByTestId('card-matrix');
		const mode = card.getByTestId('matrix-mode');
		await waitFor(async () => (await mode.innerText()) === `Sleeping until ${until}`, `"Sleeping until ${until}"`, 10_000);
		assert.equal(await card.getByTestId('led-matrix').getAttribute('data-lit'), '0', 'dark while asleep');
		await shots(page, 'matrix-asleep');
		await card.getByRole('button', { name: 'Wake' }).click();
		await waitFor(async () => !/^Sleeping/.test(await mode.innerText()), 'awake', 5000, 50);
		await waitFor(async () => Number(await card.getByTestId('led-matrix').getAttribute('data-lit')) > 0, 'the LEDs lit', 5000, 50);
		assert.match(await mode.innerText(), /icon|scrolling/);
		await shots(page, 'matrix-woken');
		assert.deepEqual(errors, []);
		await context.close();
	});

	test('settings under --sim say what runs instead, and the stored settings stay as they are', async () => {
		const stored = (await stack.api('/api/config')).body;
		const { page, context, errors } = await stack.open('/settings');
		const note = page.getByTestId('sim-settings');
		await note.waitFor();
		const text = await note.innerText();
		assert.match(text, /This stack runs with\s+--sim/);
		assert.match(text, /Pi-hole address \(none is set\) and password are not used/);
		const monitors = await page.getByTestId('sim-aranet4').innerText();
		for (const label of ['office', 'bedroom', 'garage']) assert.match(monitors, new RegExp(`${label} \\(D4:7B:0C:4A:11:0\\d\\)`));
		assert.match(monitors, /None is configured below, so these are the ones read and shown on the overview/);
		// The Pi-hole field shows what is stored: empty.
		assert.equal(await page.locator('#pihole-host').inputValue(), '');
		await assertLabelled(page);
		await shots(page, 'settings-sim');
		const after = (await stack.api('/api/config')).body;
		assert.deepEqual(
			{ pihole: after.pihole, aranet4: after.aranet4 },
			{ pihole: stored.pihole, aranet4: stored.aranet4 },
			'nothing was written'
		);
		assert.deepEqual(errors, []);
		await context.close();
	});
});
