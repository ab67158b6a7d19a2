// Settings as a person meets them: a refused value's message names the field by its label and
// goes once the value is fixed; a cleared number field says what it needs; the jump links name
// the sections as their headings do; leaving with changes not saved asks first.
//
//   npm run build && SENSE_PULSE_BIN=target/debug/sense-pulse node --test e2e/settings.test.mjs
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { NARROW, Stack, WIDE, assertFits, shotEachView, waitFor } from './harness.mjs';

let stack;
const api = (path, init) => stack.api(path, init);

before(async () => {
	stack = await Stack.start();
});

after(async () => {
	await stack?.stop();
});

/** Internal names a person should never read on the page. */
const INTERNAL = /schedule\.system|scroll_speed|password_hash|sensors\[\d|expected u32|expected f64|invalid type|got ""/;

/** The page's visible text. */
const visibleText = (page) => page.locator('main').innerText();

describe('settings', () => {
	test('a refused value is named by its label, and its message goes once the value is fixed', async () => {
		const { page, context, errors } = await stack.open('/settings', WIDE);
		const form = page.locator('form[data-section="display"]');
		const speed = form.locator('#display-scroll_speed');
		await speed.waitFor();
		const before = (await api('/api/config')).body.display.scroll_speed;
		await speed.fill('5');
		await form.getByRole('button', { name: 'Save' }).click();
		const message = form.locator('[data-field="scroll_speed"] [data-testid="field-error"]');
		await message.waitFor();
		assert.equal(await message.innerText(), '“Scroll speed” must be between 0.01 and 1 s (got 5)');
		assert.equal(await speed.getAttribute('aria-invalid'), 'true');
		const status = form.getByTestId('save-status');
		assert.match(await status.innerText(), /^Not saved: “Scroll speed” must be between/);
		assert.equal((await api('/api/config')).body.display.scroll_speed, before, 'nothing was stored');
		await shotEachView(page, 'settings-refused');

		// Fixed in the form: the message goes at once, before any save.
		await speed.fill('0.5');
		await message.waitFor({ state: 'detached' });
		assert.equal(await speed.getAttribute('aria-invalid'), null);
		assert.equal(await status.innerText(), 'Changes not saved yet.');
		// The bad value again: the form says nothing until it is sent (the gateway judges it).
		await form.getByRole('button', { name: 'Save' }).click();
		await status.filter({ hasText: 'Saved.' }).waitFor();
		assert.equal((await api('/api/config')).body.display.scroll_speed, 0.5);
		assert.doesNotMatch(await visibleText(page), INTERNAL);
		assert.deepEqual(errors, []);
		await context.close();
	});

	test('a cleared number field says, with the field’s label, that it needs a number', async () => {
		const { page, context, errors } = await stack.open('/settings', WIDE);
		const form = page.locator('form[data-section="schedule"]');
		const system = form.locator('#schedule-system');
		await system.waitFor();
		await system.fill('');
		await form.getByRole('button', { name: 'Save' }).click();
		const message = form.locator('[data-field="system"] [data-testid="field-error"]');
		await message.waitFor();
		assert.equal(await message.innerText(), '“System” is empty: enter a whole number from 5 to 86400.');
		// Read out with its input.
		const describedBy = (await system.getAttribute('aria-describedby')).split(' ');
		assert.ok(describedBy.includes(await message.getAttribute('id')));
		assert.match(await form.getByTestId('save-status').innerText(), /Not saved: “System” is empty: enter a whole number/);
		assert.doesNotMatch(await visibleText(page), INTERNAL);
		await shotEachView(page, 'settings-cleared-number');
		await system.fill('45');
		await message.waitFor({ state: 'detached' });
		await form.getByRole('button', { name: 'Save' }).click();
		await form.getByTestId('save-status').filter({ hasText: 'Saved.' }).waitFor();
		assert.equal((await api('/api/config')).body.schedule.system, 45);
		assert.deepEqual(errors, []);
		await context.close();
	});

	test('a refused list entry’s message goes with the entry', async () => {
		const { page, context, errors } = await stack.open('/settings', WIDE);
		const form = page.locator('form[data-section="aranet4"]');
		const add = form.getByRole('button', { name: 'Add by hand' });
		await add.waitFor();
		const rows = await form.getByTestId('aranet4-row').count();
		await add.click();
		const added = form.getByTestId('aranet4-row').nth(rows);
		await added.getByLabel('Name').fill('porch');
		await added.getByLabel('Bluetooth address').fill('not an address');
		await form.getByRole('button', { name: 'Save' }).click();
		const message = added.getByRole('alert');
		await message.waitFor();
		assert.equal(
			await message.innerText(),
			`“Bluetooth address” of monitor ${rows + 1} must be a Bluetooth address like AA:BB:CC:DD:EE:FF (got "not an address")`
		);
		assert.equal(await added.getByLabel('Bluetooth address').getAttribute('aria-invalid'), 'true');
		await added.getByRole('button', { name: 'Remove porch' }).click();
		await message.waitFor({ state: 'detached' });
		assert.equal(await form.getByRole('alert').count(), 0, 'no message left in the section');
		assert.equal(await form.getByTestId('save-status').count(), 0, 'nothing left to save');
		assert.doesNotMatch(await visibleText(page), INTERNAL);
		assert.deepEqual(errors, []);
		await context.close();
	});

	test('the jump links name each section as its heading does, and fit a phone', async () => {
		const { page, context, errors } = await stack.open('/settings', NARROW, 'light');
		const toc = page.getByRole('navigation', { name: 'Settings sections' });
		await page.locator('form[data-section="global"] #global-cache_ttl').waitFor();
		const links = toc.getByRole('link');
		const n = await links.count();
		// The config sections (Alerts and MQTT among them) and “This browser”; no satellite here,
		// so no “Rooms” (with one, 14: rooms.test.mjs).
		assert.equal(n, 13);
		for (let i = 0; i < n; i++) {
			const link = links.nth(i);
			const target = (await link.getAttribute('href')).slice(1);
			assert.equal(await link.innerText(), await page.locator(`[id="${target}"]`).innerText(), target);
		}
		await assertFits(page, NARROW.width);
		assert.deepEqual(errors, []);
		await context.close();
	});

	test('leaving with changes not saved asks first, in the app and when the page unloads', async () => {
		const { page, context, errors } = await stack.open('/settings', WIDE);
		const form = page.locator('form[data-section="weather"]');
		const location = form.locator('#weather-location');
		await location.waitFor();
		await location.fill('Paris');
		await form.getByTestId('save-status').filter({ hasText: 'Changes not saved yet.' }).waitFor();
		const toc = page.getByRole('navigation', { name: 'Settings sections' });
		await toc.getByRole('link', { name: /Weather · not saved/ }).waitFor();

		// Another page of the app: asked, and staying keeps the change.
		const dialogs = [];
		let answer = false;
		page.on('dialog', (d) => {
			dialogs.push({ type: d.type(), message: d.message() });
			void (answer ? d.accept() : d.dismiss());
		});
		const nav = page.getByRole('navigation', { name: 'Sections', exact: true });
		await nav.getByRole('link', { name: 'Status' }).click();
		await waitFor(() => dialogs.length === 1, 'the question before leaving');
		assert.equal(dialogs[0].type, 'confirm');
		assert.equal(dialogs[0].message, '“Weather” has changes that are not saved. Leave this page and lose them?');
		assert.equal(new URL(page.url()).pathname, '/settings');
		assert.equal(await location.inputValue(), 'Paris');

		// Closing (or reloading) the page: the browser asks.
		await page.close({ runBeforeUnload: true });
		await waitFor(() => dialogs.length === 2, 'the browser asking before unloading');
		assert.equal(dialogs[1].type, 'beforeunload');
		assert.equal(page.isClosed(), false, 'staying keeps the page');
		assert.equal(await location.inputValue(), 'Paris');

		// Leaving anyway goes.
		answer = true;
		await nav.getByRole('link', { name: 'Status' }).click();
		await page.waitForURL('**/status');
		assert.equal(dialogs.length, 3);

		// Nothing to lose: no question.
		await page.goBack();
		await location.waitFor();
		assert.equal(await location.inputValue(), (await api('/api/config')).body.weather.location);
		await nav.getByRole('link', { name: 'Camera', exact: true }).click();
		await page.waitForURL('**/camera');
		assert.equal(dialogs.length, 3);
		assert.deepEqual(errors, []);
		await context.close();
	});
});
