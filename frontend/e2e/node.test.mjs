// A microcontroller node on a serial link: `run --sim --sim-node` adds one simulated Pico node
// (`node-sim-pico`, with an LED matrix). Its card is on the overview after the Sense HAT's, at
// 1280 and 390 px, with a temperature and the link it is on; a text sent to its LED matrix gets
// the node's answer; it is no problem while its link is up; Status lists it, and its link's
// health.
//
//   npm run build && SENSE_PULSE_BIN=target/debug/sense-pulse node --test e2e/node.test.mjs
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { NARROW, SOURCES, Stack, WIDE, assertFits, assertLabelled, hasColour, live, shot, waitFor } from './harness.mjs';
import { assertAxeClean } from './axe.mjs';

const NODE = 'node-sim-pico';

let stack;
const api = (path, init) => stack.api(path, init);

before(async () => {
	stack = await Stack.start({ args: ['--sim-node'], sources: [...SOURCES, NODE] });
});

after(async () => {
	await stack?.stop();
});

describe('a microcontroller node', () => {
	test('the API: its readings, and a link that is up, with an LED matrix', async () => {
		const { status, body } = await api(`/api/sources/${NODE}`);
		assert.equal(status, 200, JSON.stringify(body));
		assert.equal(typeof body.readings.temperature?.value, 'number', JSON.stringify(body.readings));
		const link = body.status.link;
		assert.ok(link, `the status has its link: ${JSON.stringify(body.status)}`);
		assert.equal(link.connected, true);
		assert.equal(link.led_matrix, true);
		assert.ok(link.measures.includes('temperature'), JSON.stringify(link));
	});

	for (const [name, viewport] of [
		['desktop-dark', WIDE],
		['phone-dark', NARROW]
	]) {
		test(`the overview at ${viewport.width} px: its card, after the Sense HAT's, and a text shown on its LED matrix`, async () => {
			const { page, context, errors } = await stack.open('/', viewport, 'dark');
			await live(page);
			const card = page.getByTestId(`card-${NODE}`);
			await card.waitFor();
			assert.equal(await card.locator('h2').innerText(), 'Pico node · sim-pico');
			await waitFor(async () => (await card.getAttribute('data-availability')) === 'available', 'the node card live');
			assert.equal(await card.getAttribute('data-health'), 'ok');
			assert.equal(await card.getByTestId('badge').innerText(), 'live');
			assert.ok(await hasColour(card.getByTestId('badge'), 'color', '--good'), 'drawn green');

			// Right after the Sense HAT's card.
			const cards = await page.locator('[data-testid^="card-"]').evaluateAll((all) => all.map((c) => c.dataset.testid));
			assert.equal(cards.indexOf(`card-${NODE}`), cards.indexOf('card-sensors') + 1, cards.join(' '));

			// On screen, with a temperature as a number (never a made-up 0 for a missing one).
			await card.scrollIntoViewIfNeeded();
			const box = await card.boundingBox();
			assert.ok(box && box.width > 0 && box.x >= 0 && box.x + box.width <= viewport.width, `the card is on screen: ${JSON.stringify(box)}`);
			const temperature = card.locator('[data-sensor="temperature"]');
			const value = Number(await temperature.getAttribute('data-value'));
			assert.ok(Number.isFinite(value), 'a temperature is shown');
			assert.match(await temperature.innerText(), /Temperature[\s\S]*\d[\s\S]*°[CF]/);
			assert.match(await card.getByTestId('link').innerText(), /^USB serial \S+/);

			// A text on its LED matrix: the node's answer is said, as a success.
			await card.getByLabel("Show on the node's LED matrix").fill(`Hi ${viewport.width}`);
			await card.getByTestId('node-led-send').click();
			const reply = card.getByTestId('node-led-result');
			await reply.waitFor();
			assert.equal(await reply.getAttribute('data-ok'), 'true', await reply.innerText());
			assert.ok((await reply.innerText()).trim().length > 0, 'the answer is said');

			// A node that is fine is no problem.
			const strip = page.getByTestId('problems');
			if (await strip.count()) {
				const items = await strip.locator('li').allInnerTexts();
				assert.ok(!items.some((i) => i.startsWith('Pico node')), items.join(' | '));
			}

			if (viewport === NARROW) await assertFits(page, NARROW.width);
			await assertLabelled(page);
			await shot(page, `node-overview-${name}`);
			assert.deepEqual(errors, []);
			await context.close();
		});
	}

	test('the overview with the node card has no axe violation', async () => {
		const { page, context, errors } = await stack.open('/', WIDE);
		await live(page);
		const card = page.getByTestId(`card-${NODE}`);
		await waitFor(async () => (await card.getAttribute('data-availability')) === 'available', 'the node card live');
		await assertAxeClean(page, '/ with a node');
		assert.deepEqual(errors, []);
		await context.close();
	});

	test('Status: the node is a source like the others, and its link is connected', async () => {
		for (const [name, viewport] of [
			['desktop-dark', WIDE],
			['phone-dark', NARROW]
		]) {
			const { page, context, errors } = await stack.open('/status', viewport, 'dark');
			const row = page.getByTestId(`status-${NODE}`);
			await row.waitFor();
			assert.equal(await row.locator('th').innerText(), 'Pico node sim-pico');
			const state = row.getByTestId('state');
			await waitFor(async () => (await state.innerText()) === 'available', 'the node available on Status');
			assert.equal(await state.getAttribute('data-level'), 'good');
			const link = page.getByTestId(`link-${NODE}`);
			assert.equal(await link.getByTestId('link-state').innerText(), 'connected');
			assert.match(await link.innerText(), /since \d\d:\d\d/);
			if (viewport === NARROW) await assertFits(page, NARROW.width);
			await assertLabelled(page);
			await shot(page, `node-status-${name}`);
			assert.deepEqual(errors, []);
			await context.close();
		}
	});
});
