// Several Pis, one dashboard (issue 19): a fake satellite `kitchen` writes into the hub's Redis
// (a real redis-server the test starts) what a satellite's services would, with its ids scoped
// (`sensors@kitchen`, `orchestrator@kitchen`) and its `node:kitchen` record refreshed like its
// orchestrator's health write. A person sees a "Kitchen" section with its Sense HAT's
// temperature under the hub's "This Pi"; with its link cut (its record's last contact old), ONE
// problem, "Kitchen: no contact since …", none for its sources, and its card keeping its last
// value marked "no contact"; back in contact, the problem goes by itself. Status lists the Pis,
// the hub first. At 1280 and 390 px, with axe-core.
//
//   npm run build && SENSE_PULSE_BIN=target/debug/sense-pulse node --test e2e/nodes.test.mjs
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { NARROW, Redis, Stack, WIDE, assertFits, assertLabelled, live, shot, waitFor } from './harness.mjs';
import { assertAxeClean } from './axe.mjs';

let redis;
let stack;

before(async () => {
	redis = await Redis.start();
	stack = await Stack.start({ redis: redis.url });
});

after(async () => {
	satellite.stop();
	await stack?.stop();
	await redis?.close();
});

const cli = (...args) => execFileSync('redis-cli', ['-p', String(redis.port), ...args], { encoding: 'utf8' }).trim();
const unix = () => Date.now() / 1000;
const TEMPERATURE = 21.5;

/** What the satellite `kitchen` writes, as its services would: its Sense HAT's poll (a reading,
 *  its status and meta), its orchestrator's health and its node record, each followed by the
 *  `data:` notice. `contact`: the record's last contact (an old one is a link that was cut). */
function writeKitchen({ contact = unix(), sensorsError = null } = {}) {
	const now = unix();
	const status = (id, error = null) =>
		JSON.stringify({
			source_id: id,
			last_poll: now,
			last_success: error ? now - 60 : now,
			last_error: error,
			poll_count: 12,
			error_count: error ? 1 : 0,
			...(error ? { outcome: 'failed' } : { outcome: 'ok' })
		});
	cli('SET', 'source:sensors@kitchen:temperature', JSON.stringify({ value: TEMPERATURE, unit: 'C', timestamp: now }), 'EX', '600');
	cli('SET', 'status:sensors@kitchen', status('sensors@kitchen', sensorsError), 'EX', '600');
	cli(
		'SET',
		'meta:sensors@kitchen',
		JSON.stringify({ source_id: 'sensors@kitchen', name: 'Sense HAT', description: '', refresh_interval: 10, enabled: true })
	);
	cli('SET', 'status:orchestrator@kitchen', status('orchestrator@kitchen'), 'EX', '600');
	cli(
		'SET',
		'node:kitchen',
		JSON.stringify({
			name: 'kitchen',
			room: 'Kitchen',
			last_contact: contact,
			interval_s: 15,
			sources: ['sensors@kitchen', 'orchestrator@kitchen'],
			version: '0.1.0'
		})
	);
	cli('PUBLISH', 'data:sensors@kitchen', JSON.stringify({ source_id: 'sensors@kitchen', timestamp: now }));
	cli('PUBLISH', 'data:orchestrator@kitchen', JSON.stringify({ source_id: 'orchestrator@kitchen', timestamp: now }));
}

/** The satellite alive: it writes every 5 s, as its orchestrator's health writes would (every
 *  15 s by default), so it stays in contact however long a check takes. */
const satellite = {
	timer: null,
	start() {
		this.stop();
		writeKitchen();
		this.timer = setInterval(() => writeKitchen(), 5000);
	},
	/** The link cut: nothing more from it, and its record's last contact old. */
	cut(sensorsError) {
		this.stop();
		writeKitchen({ contact: unix() - 600, sensorsError });
	},
	stop() {
		if (this.timer) clearInterval(this.timer);
		this.timer = null;
	}
};

const kitchenCard = (page) => page.getByTestId('card-sensors@kitchen');
const stripItems = (page) => page.getByTestId('problems').locator('li').allInnerTexts();

/** The clock time the dashboard shows for a Unix time, as the page's own locale and zone say. */
const clockIn = (page, t) =>
	page.evaluate((t) => new Date(t * 1000).toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit' }), t);

describe('a satellite Pi', () => {
	test('the API: /api/nodes has kitchen, in contact; its sources are in /api/sources', async () => {
		satellite.start();
		const body = await waitFor(async () => {
			const { status, body } = await stack.api('/api/nodes');
			assert.equal(status, 200, JSON.stringify(body));
			return body.nodes.length === 1 && body;
		}, 'the kitchen node in /api/nodes');
		assert.equal(body.nodes[0].name, 'kitchen');
		assert.equal(body.nodes[0].contact, 'ok', JSON.stringify(body));
		assert.equal(body.bus.state, 'up');
		const { body: sources } = await stack.api('/api/sources');
		assert.equal(sources['sensors@kitchen'].readings.temperature.value, TEMPERATURE);
	});

	for (const [name, viewport] of [
		['desktop-dark', WIDE],
		['phone-dark', NARROW]
	]) {
		test(`the overview at ${viewport.width} px: This Pi's cards first, then a Kitchen section with its Sense HAT`, async () => {
			satellite.start();
			const { page, context, errors } = await stack.open('/', viewport, 'dark');
			await live(page);
			const hub = page.getByTestId('group-hub');
			const kitchen = page.getByTestId('group-kitchen');
			await kitchen.waitFor();
			assert.equal(await hub.locator('h2').first().innerText(), 'This Pi');
			assert.equal(await kitchen.locator('h2').first().innerText(), 'Kitchen');
			// The hub's section first, holding the hub's cards; the kitchen's holds its own.
			const groups = await page.locator('[data-testid^="group-"]').evaluateAll((all) => all.map((g) => g.dataset.testid));
			assert.deepEqual(groups, ['group-hub', 'group-kitchen']);
			await hub.getByTestId('card-sensors').waitFor();
			await hub.getByTestId('card-weather').waitFor();
			const card = kitchen.getByTestId('card-sensors@kitchen');
			await card.waitFor();
			assert.equal(await card.locator('h3').innerText(), 'Sense HAT');
			const row = card.locator('[data-sensor="temperature"]');
			await waitFor(async () => Number(await row.getAttribute('data-value')) === TEMPERATURE, 'the kitchen temperature');
			assert.match(await row.innerText(), /21\.5\s*°C/);
			await waitFor(async () => (await card.getAttribute('data-availability')) === 'available', 'the kitchen card live');
			assert.equal(await card.getByTestId('badge').innerText(), 'live');
			// Its LED matrix takes a text (sent to `sensors@kitchen`).
			await card.getByTestId('led-text').waitFor();
			// Nothing about the kitchen in the strip while it is in contact.
			const items = (await page.getByTestId('problems').count()) ? await stripItems(page) : [];
			assert.ok(!items.some((i) => i.includes('Kitchen')), items.join(' | '));
			if (viewport === NARROW) await assertFits(page, NARROW.width);
			await assertLabelled(page);
			await shot(page, `nodes-overview-${name}`);
			assert.deepEqual(errors, []);
			await context.close();
		});
	}

	test('axe-core finds no violation on the overview with a satellite, at 1280 and 390 px, dark and light', async () => {
		satellite.start();
		const { page, context, errors } = await stack.open('/', WIDE);
		await live(page);
		await kitchenCard(page).locator('[data-sensor="temperature"]').waitFor();
		await assertAxeClean(page, '/ with a satellite');
		assert.deepEqual(errors, []);
		await context.close();
	});

	test('Status: the Pis, the hub first, the kitchen with its orchestrator, last contact and version', async () => {
		satellite.start();
		const { page, context, errors } = await stack.open('/status', WIDE);
		const section = page.getByTestId('status-nodes');
		await section.getByTestId('pi-kitchen').waitFor();
		const rows = await section.locator('tbody tr').evaluateAll((all) => all.map((r) => r.dataset.testid));
		assert.deepEqual(rows, ['pi-hub', 'pi-kitchen']);
		const kitchen = section.getByTestId('pi-kitchen');
		assert.match(await kitchen.locator('th').innerText(), /^Kitchen\s*kitchen$/);
		assert.equal(await kitchen.getByTestId('pi-orchestrator').innerText(), 'running');
		assert.match(await kitchen.getByTestId('pi-contact').innerText(), /^(just now|\d+ s ago)$/);
		assert.match(await kitchen.innerText(), /0\.1\.0/);
		assert.match(await section.getByTestId('pi-hub').locator('th').innerText(), /^This Pi$/);
		await page.getByTestId('status-sensors@kitchen').waitFor();
		await assertAxeClean(page, '/status with a satellite');
		await shot(page, 'nodes-status-desktop-dark');
		assert.deepEqual(errors, []);
		await context.close();
	});

	for (const [name, viewport] of [
		['desktop-dark', WIDE],
		['phone-dark', NARROW]
	]) {
		test(`at ${viewport.width} px, its link cut: one problem "Kitchen: no contact since …", none for its sources; back: gone by itself`, async () => {
			satellite.start();
			const { page, context, errors } = await stack.open('/', viewport, 'dark');
			await live(page);
			const card = kitchenCard(page);
			await waitFor(async () => (await card.getAttribute('data-availability')) === 'available', 'the kitchen card live');

			// Cut: its last words say its Sense HAT failed, yet only the Pi is a problem.
			satellite.cut('HTS221: no answer');
			const lastContact = JSON.parse(cli('GET', 'node:kitchen')).last_contact;
			const strip = page.getByTestId('problems');
			const kitchenItems = async () => (await strip.count()) ? (await stripItems(page)).filter((i) => i.includes('Kitchen')) : [];
			// (Its failed status comes over the live feed at once; the gateway's judgement of the
			// node with the next poll of /api/nodes, within 5 s.)
			await waitFor(async () => (await kitchenItems()).some((i) => i.includes('no contact')), 'the kitchen lost in the problem strip', 30_000);
			assert.deepEqual(await kitchenItems(), [`Kitchen: no contact since ${await clockIn(page, lastContact)}`]);
			const items = await stripItems(page);
			assert.ok(!items.some((i) => /Sense HAT · Kitchen|Orchestrator · Kitchen|HTS221/.test(i)), items.join(' | '));
			const count = Number(/^(\d+) problems?\b/.exec(await strip.getByTestId('problems-link').innerText())?.[1]);
			assert.equal(count, items.length, items.join(' | '));

			// Its card keeps its last value, marked no contact, not failing.
			await waitFor(async () => (await card.getAttribute('data-availability')) === 'frozen', 'the kitchen card frozen');
			assert.equal(await card.getByTestId('badge').innerText(), 'no contact');
			assert.equal(await card.getAttribute('data-health'), 'ok');
			assert.equal(Number(await card.locator('[data-sensor="temperature"]').getAttribute('data-value')), TEMPERATURE);
			assert.match(await card.getByTestId('no-contact').innerText(), /^Kitchen: no contact since \d\d:\d\d; these are the last values it sent\.$/);
			assert.doesNotMatch(await card.innerText(), /failing/);
			assert.match(await page.getByTestId('group-kitchen').getByTestId('node-contact').innerText(), /no contact since/);
			if (viewport === NARROW) await assertFits(page, NARROW.width);
			await assertLabelled(page);
			await shot(page, `nodes-lost-${name}`);
			if (name === 'desktop-dark') await assertAxeClean(page, '/ with a lost satellite');

			// Back in contact: the problem goes by itself, the card is live again.
			satellite.start();
			await waitFor(async () => (await kitchenItems()).length === 0, 'the kitchen problem gone', 30_000);
			await waitFor(async () => (await card.getAttribute('data-availability')) === 'available', 'the kitchen card live again');
			assert.equal(await card.getByTestId('badge').innerText(), 'live');
			await shot(page, `nodes-back-${name}`);
			assert.deepEqual(errors, []);
			await context.close();
		});
	}
});
