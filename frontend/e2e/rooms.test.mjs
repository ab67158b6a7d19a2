// A room's own settings (docs/CONTRACT.md, "Several Pis"): with a satellite `kitchen` in the
// hub's Redis (a real redis-server; the satellite faked by writing its `node:kitchen` record, as
// nodes.test.mjs does), Settings has a "Rooms" section. The kitchen's rotation set to 180 there
// is stored as its own alone (`config:display@kitchen` = `{"rotation":180}`, the shared
// `config:display` untouched), shown after a reload for the kitchen while the shared form keeps
// the shared value; reset, it follows the shared value again and the override is gone. A
// refused value is named by its label; a form loaded before someone else's change is refused;
// leaving with a room's changes not saved asks. At 1280 and 390 px, with axe-core.
//
//   npm run build && SENSE_PULSE_BIN=target/debug/sense-pulse node --test e2e/rooms.test.mjs
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { NARROW, Redis, Stack, WIDE, assertFits, assertLabelled, shotEachView, waitFor } from './harness.mjs';
import { assertAxeClean } from './axe.mjs';

let redis;
let stack;

const cli = (...args) => execFileSync('redis-cli', ['-p', String(redis.port), ...args], { encoding: 'utf8' }).trim();

/** The satellite's record, as its orchestrator writes it: enough for the hub to list it. */
function writeKitchen() {
	cli(
		'SET',
		'node:kitchen',
		JSON.stringify({
			name: 'kitchen',
			room: 'Kitchen',
			last_contact: Date.now() / 1000,
			interval_s: 15,
			sources: ['sensors@kitchen', 'orchestrator@kitchen'],
			version: '0.1.0'
		})
	);
}

before(async () => {
	redis = await Redis.start();
	stack = await Stack.start({ redis: redis.url });
	writeKitchen();
	await waitFor(async () => (await stack.api('/api/nodes')).body?.nodes?.length === 1, 'the kitchen in /api/nodes');
});

after(async () => {
	await stack?.stop();
	await redis?.close();
});

/** The Rooms section, once the page knows the kitchen. */
async function roomsOf(page) {
	const rooms = page.locator('section[data-section="rooms"]');
	await rooms.locator('form[data-override="display@kitchen"] [data-room-field="rotation"]').waitFor();
	return rooms;
}

const INTERNAL = /display@kitchen|sleep@kitchen|aranet4@kitchen|sensors@kitchen|scroll_speed|start_hour|compensation_factor/;

describe('a room’s own settings', () => {
	for (const viewport of [WIDE, NARROW]) {
		test(`at ${viewport.width} px: the kitchen’s rotation set to 180 is its own alone; after a reload it shows; reset, it follows the shared one`, async () => {
			cli('DEL', 'config:display@kitchen');
			const sharedBefore = cli('GET', 'config:display');
			const shared = (await stack.api('/api/config')).body.display.rotation;
			const { page, context, errors } = await stack.open('/settings', viewport);
			const rooms = await roomsOf(page);
			assert.equal(await rooms.locator('#room-picker').inputValue(), 'kitchen');
			const form = rooms.locator('form[data-override="display@kitchen"]');
			const field = form.locator('[data-room-field="rotation"]');
			assert.equal(await field.getByTestId('follows').innerText(), `As the shared setting: ${shared}°`);
			// The night hours follow the shared ones too.
			const night = rooms.locator('form[data-override="sleep@kitchen"]');
			assert.match(await night.locator('[data-room-field="start_hour"]').getByTestId('follows').innerText(), /^As the shared setting: \d\d:00$/);

			// Set for the kitchen: its input starts at the shared value and takes the focus.
			await field.getByRole('button', { name: 'Set for Kitchen: “Rotation”' }).click();
			const rotation = form.locator('#room-kitchen-display-rotation');
			await waitFor(() => rotation.evaluate((el) => el === document.activeElement), 'the rotation input focused');
			assert.equal(await rotation.inputValue(), String(shared));
			await rotation.selectOption('180');
			await form.getByTestId('save-status').filter({ hasText: 'Changes not saved yet.' }).waitFor();
			const toc = page.getByRole('navigation', { name: 'Settings sections' });
			await toc.getByRole('link', { name: 'Rooms · not saved' }).waitFor();
			await form.getByRole('button', { name: 'Save LED display for Kitchen' }).click();
			await form.getByTestId('save-status').filter({ hasText: 'Saved.' }).waitFor();
			await toc.getByRole('link', { name: 'Rooms', exact: true }).waitFor();

			// Stored as the kitchen's own, that field alone; the shared section untouched.
			assert.equal(cli('GET', 'config:display@kitchen'), '{"rotation":180}');
			assert.equal(cli('GET', 'config:display'), sharedBefore);
			assert.equal((await stack.api('/api/config')).body.display.rotation, shared);

			// Reloaded: 180 for the kitchen, the shared value in the shared form.
			await page.reload();
			await roomsOf(page);
			assert.equal(await rotation.inputValue(), '180');
			assert.equal(await field.getAttribute('data-own'), 'true');
			assert.equal(await page.locator('form[data-section="display"] #display-rotation').inputValue(), String(shared));
			assert.equal(await form.locator('[data-room-field="low_light"]').getByTestId('follows').count(), 1);
			if (viewport === NARROW) await assertFits(page, NARROW.width);
			await assertLabelled(page);
			assert.doesNotMatch(await page.locator('main').innerText(), INTERNAL);
			// (Full-page shots: the same page at every width and in both themes, taken once.)
			if (viewport === WIDE) await shotEachView(page, 'rooms-own');
			await assertAxeClean(page, '/settings with a room’s own rotation');

			// Reset: it follows the shared value again, and the override is gone.
			await field.getByRole('button', { name: `Use the shared setting (${shared}°) for “Rotation”` }).click();
			await field.getByTestId('follows').waitFor();
			await form.getByTestId('save-status').filter({ hasText: 'Changes not saved yet.' }).waitFor();
			await form.getByRole('button', { name: 'Save LED display for Kitchen' }).click();
			await form.getByTestId('save-status').filter({ hasText: 'Saved.' }).waitFor();
			assert.equal(cli('EXISTS', 'config:display@kitchen'), '0');
			assert.equal(cli('GET', 'config:display'), sharedBefore);
			assert.equal((await stack.api('/api/config')).body._overrides, undefined);
			await page.reload();
			await roomsOf(page);
			assert.equal(await field.getByTestId('follows').innerText(), `As the shared setting: ${shared}°`);
			assert.equal(await field.getAttribute('data-own'), 'false');
			assert.deepEqual(errors, []);
			await context.close();
		});
	}

	test('the kitchen’s own Aranet4 monitors: set from the shared list, a refused address at its row, saved as the kitchen’s alone, reset', async () => {
		cli('DEL', 'config:aranet4@kitchen');
		const sharedBefore = cli('GET', 'config:aranet4');
		const shared = (await stack.api('/api/config')).body.aranet4.sensors.map((s) => s.label);
		const { page, context, errors } = await stack.open('/settings', WIDE);
		const rooms = await roomsOf(page);
		const form = rooms.locator('form[data-override="aranet4@kitchen"]');
		const monitors = form.locator('[data-room-field="sensors"]');
		const follows = `As the shared setting: ${shared.length ? shared.join(', ') : 'none'}`;
		assert.equal(await monitors.getByTestId('follows').innerText(), follows);

		// Its own list starts as a copy of the shared one: the kitchen hears one monitor of its own.
		await monitors.getByRole('button', { name: 'Set for Kitchen: “Monitors”' }).click();
		const rows = monitors.getByTestId('aranet4-row');
		assert.equal(await rows.count(), shared.length);
		for (let i = shared.length; i > 0; i--) await rows.first().getByRole('button', { name: /^Remove / }).click();
		await monitors.getByRole('button', { name: 'Add by hand' }).click();
		await rows.first().getByLabel('Name').fill('kitchen');
		await rows.first().getByLabel('Bluetooth address').fill('AA:BB:CC:DD:EE');
		await form.getByRole('button', { name: 'Save Aranet4 monitors for Kitchen' }).click();
		// Refused at the row's address, in words; nothing stored.
		const refused = monitors.getByRole('alert');
		await refused.waitFor();
		assert.match(await refused.innerText(), /Bluetooth address/);
		assert.doesNotMatch(await refused.innerText(), /sensors\[0\]|aranet4@kitchen/);
		assert.equal(await rows.first().getByLabel('Bluetooth address').getAttribute('aria-invalid'), 'true');
		assert.equal(cli('EXISTS', 'config:aranet4@kitchen'), '0');
		// Fixed: the refusal goes, and the list is saved as the kitchen's own, that field alone.
		await rows.first().getByLabel('Bluetooth address').fill('AA:BB:CC:DD:EE:03');
		await waitFor(async () => (await refused.count()) === 0, 'the refusal gone once the address is fixed');
		await form.getByRole('button', { name: 'Save Aranet4 monitors for Kitchen' }).click();
		await form.getByTestId('save-status').filter({ hasText: 'Saved.' }).waitFor();
		assert.deepEqual(JSON.parse(cli('GET', 'config:aranet4@kitchen')), {
			sensors: [{ label: 'kitchen', mac: 'AA:BB:CC:DD:EE:03', enabled: true }]
		});
		assert.equal(cli('GET', 'config:aranet4'), sharedBefore);
		assert.deepEqual((await stack.api('/api/config')).body.aranet4.sensors.map((s) => s.label), shared);

		// Reloaded: the kitchen's list; the shared form keeps the shared one.
		await page.reload();
		await roomsOf(page);
		assert.equal(await monitors.getAttribute('data-own'), 'true');
		assert.equal(await rows.count(), 1);
		assert.equal(await rows.first().getByLabel('Name').inputValue(), 'kitchen');
		assert.equal(await page.locator('form[data-section="aranet4"] [data-testid="aranet4-row"]').count(), shared.length);
		await assertLabelled(page);
		await shotEachView(page, 'rooms-monitors');
		await assertAxeClean(page, '/settings with a room’s own monitors');

		// Reset: it follows the shared list again, and the override is gone.
		await monitors.getByRole('button', { name: /^Use the shared setting \(.*\) for “Monitors”$/ }).click();
		await form.getByRole('button', { name: 'Save Aranet4 monitors for Kitchen' }).click();
		await form.getByTestId('save-status').filter({ hasText: 'Saved.' }).waitFor();
		assert.equal(cli('EXISTS', 'config:aranet4@kitchen'), '0');
		assert.equal(await monitors.getByTestId('follows').innerText(), follows);
		assert.deepEqual(errors, []);
		await context.close();
	});

	test('the jump links name Rooms as its heading does, after the sections it overrides', async () => {
		const { page, context, errors } = await stack.open('/settings', NARROW, 'light');
		await roomsOf(page);
		const links = page.getByRole('navigation', { name: 'Settings sections' }).getByRole('link');
		// The 13 of settings.test.mjs (no satellite there) and Rooms.
		assert.equal(await links.count(), 14);
		const texts = await links.allInnerTexts();
		assert.deepEqual(texts.slice(0, 5), ['LED display', 'Night', 'Sense HAT sensors', 'Aranet4 monitors', 'Rooms']);
		for (let i = 0; i < texts.length; i++) {
			const target = (await links.nth(i).getAttribute('href')).slice(1);
			assert.equal(texts[i], await page.locator(`[id="${target}"]`).innerText(), target);
		}
		assert.deepEqual(errors, []);
		await context.close();
	});

	test('a refused value is named by its label; a form loaded before another change is refused', async () => {
		cli('DEL', 'config:display@kitchen');
		const { page, context, errors } = await stack.open('/settings', WIDE);
		const rooms = await roomsOf(page);
		const form = rooms.locator('form[data-override="display@kitchen"]');
		const speed = form.locator('[data-room-field="scroll_speed"]');
		await speed.getByTestId('set-own').click();
		await form.locator('#room-kitchen-display-scroll_speed').fill('5');
		await form.getByRole('button', { name: 'Save LED display for Kitchen' }).click();
		const message = speed.getByTestId('field-error');
		await message.waitFor();
		assert.equal(await message.innerText(), '“Scroll speed” must be between 0.01 and 1 s (got 5)');
		assert.match(await form.getByTestId('save-status').innerText(), /^Not saved: “Scroll speed” must be between/);
		assert.equal(cli('EXISTS', 'config:display@kitchen'), '0', 'nothing stored');
		assert.doesNotMatch(await page.locator('main').innerText(), INTERNAL);

		// Someone else sets the kitchen's own meanwhile: this form is out of date.
		cli('SET', 'config:display@kitchen', '{"low_light":true}');
		await form.locator('#room-kitchen-display-scroll_speed').fill('0.5');
		await message.waitFor({ state: 'detached' });
		await form.getByRole('button', { name: 'Save LED display for Kitchen' }).click();
		await form.getByTestId('save-status').filter({ hasText: /^Not saved: Changed elsewhere since this page loaded/ }).waitFor();
		assert.equal(cli('GET', 'config:display@kitchen'), '{"low_light":true}');
		cli('DEL', 'config:display@kitchen');
		assert.deepEqual(errors, []);
		await context.close();
	});

	test('leaving with a room’s changes not saved asks first, naming the room', async () => {
		const { page, context, errors } = await stack.open('/settings', WIDE);
		const rooms = await roomsOf(page);
		const night = rooms.locator('form[data-override="sleep@kitchen"]');
		await night.locator('[data-room-field="start_hour"]').getByTestId('set-own').click();
		await night.getByTestId('save-status').filter({ hasText: 'Changes not saved yet.' }).waitFor();
		const dialogs = [];
		page.on('dialog', (d) => {
			dialogs.push(d.message());
			void d.dismiss();
		});
		await page.getByRole('navigation', { name: 'Sections', exact: true }).getByRole('link', { name: 'Status' }).click();
		await waitFor(() => dialogs.length === 1, 'the question before leaving');
		assert.equal(dialogs[0], '“Kitchen: Night” has changes that are not saved. Leave this page and lose them?');
		assert.equal(new URL(page.url()).pathname, '/settings');
		assert.equal(cli('EXISTS', 'config:sleep@kitchen'), '0');
		assert.deepEqual(errors, []);
		await context.close();
	});
});
