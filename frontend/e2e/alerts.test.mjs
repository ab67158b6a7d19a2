// Alerts against the REAL alert engine (`sense-pulse run --sim` runs it in-process), no fixtures:
// a rule added in Settings like a person would fires in the simulation; the overview shows the
// banner (value, since when) and the summary tile's count, /alerts the history; the rule edited
// so that it clears shows the cleared event with how long it lasted; a refused value is said at
// its field and nothing is stored; a simulated run never sends, so Status says the channels are off.
//
//   npm run build && SENSE_PULSE_BIN=target/debug/sense-pulse node --test e2e/alerts.test.mjs
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { NARROW, Stack, WIDE, assertFits, assertLabelled, live, shotEachView, waitFor } from './harness.mjs';
import { assertAxeClean } from './axe.mjs';

let stack;
const api = (path, init) => stack.api(path, init);
/** The engine's state now. */
const engine = async () => (await api('/api/alerts')).body;

before(async () => {
	stack = await Stack.start();
	// Setup, not the test: the simulated Pi reports every 5 s, so a rule fires (and clears)
	// within seconds of being saved rather than on the 30 s default.
	const r = await api('/api/config', { method: 'POST', body: JSON.stringify({ schedule: { system: 5 } }) });
	assert.equal(r.status, 200, JSON.stringify(r.body));
});

after(async () => {
	await stack?.stop();
});

const clockIn = (page, t) =>
	page.evaluate((t) => new Date(t * 1000).toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit' }), t);
const words = (s) => s.replace(/\s+/g, ' ').trim();
/** A temperature as the page writes it: one decimal at most, none when it is whole (48, 47.9). */
const shown = (v) => String(Math.round(v * 10) / 10);

/** The Alerts section of the settings, loaded. */
async function alertsForm(page) {
	const form = page.locator('form[data-section="alerts"]');
	await form.getByTestId('alert-rule').first().waitFor();
	return form;
}

async function saveAndWait(form) {
	await form.getByRole('button', { name: 'Save' }).click();
	await form.getByTestId('save-status').filter({ hasText: /^Saved\.$/ }).waitFor();
}

describe('alerts, end to end on the real engine', () => {
	test('a rule added in Settings fires: banner with value and since when, the tile count, the history; edited, it clears', async () => {
		const { page, context, errors } = await stack.open('/settings', WIDE);
		const form = await alertsForm(page);
		const before = (await api('/api/config')).body.alerts.rules.length;

		await form.getByRole('button', { name: 'Add a rule' }).click();
		const row = form.getByTestId('alert-rule').last();
		await row.getByLabel('Name').fill('Pi warm');
		await row.getByLabel('Source').selectOption('system');
		await row.getByLabel('Sensor', { exact: true }).fill('cpu_temp');
		await row.getByLabel('When the value is').selectOption('above');
		await row.getByLabel('Threshold').fill('1');
		await row.getByLabel('For', { exact: true }).fill('0');
		assert.equal(await row.getByLabel('Unit of “For”').inputValue(), 's');
		// The unit of the readings watched is said with the threshold.
		assert.match(await row.innerText(), /Threshold \(°C\)/);
		assert.equal(await form.getByTestId('save-status').innerText(), 'Changes not saved yet.');
		await saveAndWait(form);
		const rules = (await api('/api/config')).body.alerts.rules;
		assert.equal(rules.length, before + 1);
		assert.deepEqual(rules.at(-1), {
			id: 'pi-warm',
			name: 'Pi warm',
			source: 'system',
			sensor: 'cpu_temp',
			condition: 'above',
			threshold: 1,
			for_s: 0,
			hysteresis: 0,
			enabled: true
		});
		await shotEachView(page, 'alerts-settings');

		// The engine fires it on the next reading.
		const fired = await waitFor(async () => (await engine()).active.find((e) => e.rule === 'pi-warm'), 'the engine firing pi-warm', 60_000, 500);
		assert.equal(fired.sensor, 'cpu_temp');
		assert.equal(fired.condition, 'above');

		// The overview: the banner says what, how much, against what, since when; the tile counts.
		await page.goto(stack.base + '/');
		await live(page);
		const banner = page.getByTestId('alerts-banner');
		const item = banner.locator('[data-testid="active-alert"][data-rule="pi-warm"]');
		await item.waitFor({ timeout: 30_000 });
		assert.equal(await banner.getAttribute('role'), 'alert');
		const since = await clockIn(page, fired.since);
		assert.match(words(await item.innerText()), new RegExp(`^Pi warm CPU temperature ${shown(fired.value)} °C \\(≥ 1 °C\\) since ${since}$`));
		const active = (await engine()).active.length;
		assert.match(await banner.locator('h2').innerText(), new RegExp(`${active} active alerts?`));
		assert.match(await page.getByTestId('summary-alerts').innerText(), new RegExp(`alerts\\s+${active}\\b`, 'i'));
		assert.equal(await page.getByTestId('summary-alerts').getAttribute('data-level'), 'alert');
		const top = (id) => page.getByTestId(id).evaluate((el) => el.getBoundingClientRect().top);
		assert.ok((await top('alerts-banner')) < (await top('summary')), 'alerts above the summary');
		assert.ok((await top('summary')) < (await top('card-sensors')), 'summary above the cards');
		await assertAxeClean(page, '/ with an active alert');
		await assertLabelled(page);
		await shotEachView(page, 'alerts-overview');

		// The history, from the banner's link.
		await banner.getByRole('link', { name: 'History' }).click();
		await page.waitForURL(`${stack.base}/alerts`);
		const firedRow = page.locator('[data-testid="history-row"][data-kind="fired"]', { hasText: 'Pi warm' });
		await firedRow.first().waitFor();
		assert.match(words(await firedRow.first().innerText()), new RegExp(`^${await clockIn(page, fired.at)} fired Pi warm · .+ °C \\(≥ 1 °C\\)$`));

		// Edited so it clears: threshold 200.
		await page.goto(stack.base + '/settings');
		const form2 = await alertsForm(page);
		const mine = form2.locator('[data-testid="alert-rule"][data-rule="pi-warm"]');
		await mine.getByLabel('Threshold').fill('200');
		await saveAndWait(form2);
		assert.equal((await api('/api/config')).body.alerts.rules.find((r) => r.id === 'pi-warm').threshold, 200);
		const cleared = await waitFor(
			async () => (await engine()).history.find((e) => e.rule === 'pi-warm' && e.kind === 'cleared'),
			'the engine clearing pi-warm',
			60_000,
			500
		);
		assert.equal((await engine()).active.some((e) => e.rule === 'pi-warm'), false);

		await page.goto(stack.base + '/alerts');
		const clearedRow = page.locator('[data-testid="history-row"][data-kind="cleared"]', { hasText: 'Pi warm' });
		await clearedRow.first().waitFor({ timeout: 30_000 });
		const text = words(await clearedRow.first().innerText());
		assert.match(text, new RegExp(`^${await clockIn(page, cleared.at)} cleared Pi warm · `));
		assert.match(text, / lasted \d+ (s|min)$/);
		await assertAxeClean(page, '/alerts');
		await page.setViewportSize(NARROW);
		await assertFits(page, NARROW.width);
		await shotEachView(page, 'alerts-history');
		assert.deepEqual(errors, []);
		await context.close();
	});

	test('ntfy on with no topic: the gateway’s message at the topic, and nothing is saved', async () => {
		const { page, context, errors } = await stack.open('/settings', WIDE);
		const form = await alertsForm(page);
		const stored = (await api('/api/config')).body.alerts;
		await form.getByLabel('Send alerts to ntfy').check();
		await form.getByRole('button', { name: 'Save' }).click();
		const message = form.locator('[data-field="ntfy.topic"] [data-testid="field-error"]');
		await message.waitFor();
		assert.equal(await message.innerText(), '“Topic” of ntfy must be set to send alerts to ntfy: the topic your phone subscribes to');
		const topic = form.locator('#alerts-ntfy-topic');
		assert.equal(await topic.getAttribute('aria-invalid'), 'true');
		assert.ok((await topic.getAttribute('aria-describedby')).split(' ').includes(await message.getAttribute('id')));
		assert.match(await form.getByTestId('save-status').innerText(), /^Not saved: “Topic” of ntfy must be set/);
		assert.deepEqual((await api('/api/config')).body.alerts, stored, 'nothing was stored');
		assert.equal(await form.locator('#alerts-ntfy-token').getAttribute('type'), 'password');
		await shotEachView(page, 'alerts-settings-refused');
		// A topic fixes it at once, before any save.
		await topic.fill('sense-pulse-e2e');
		await message.waitFor({ state: 'detached' });
		assert.doesNotMatch(await page.locator('main').innerText(), /ntfy\.topic|rules\[\d|for_s/);
		assert.deepEqual(errors, []);
		await context.close();
	});

	test('a simulated run never sends: Status shows ntfy and the webhook off', async () => {
		const { page, context, errors } = await stack.open('/status', WIDE);
		const section = page.getByTestId('status-alert-channels');
		await section.waitFor();
		const state = (name) => section.locator(`[data-testid="alert-channel"][data-channel="${name}"]`);
		await state('ntfy').waitFor();
		assert.equal(await state('ntfy').getAttribute('data-state'), 'off');
		assert.equal(await state('webhook').getAttribute('data-state'), 'off');
		assert.match(words(await state('ntfy').innerText()), /^ntfy off not sending/);
		assert.match(words(await state('webhook').innerText()), /^Webhook off not sending/);
		const { channels } = await engine();
		assert.deepEqual(Object.keys(channels).sort(), ['ntfy', 'webhook']);
		assert.ok(Object.values(channels).every((c) => c.state === 'off' && c.last_success === null && c.last_failure === null));
		await section.getByRole('link', { name: 'Alerts and their history' }).click();
		await page.waitForURL(`${stack.base}/alerts`);
		await page.getByTestId('alert-channels').waitFor();
		await assertAxeClean(page, '/alerts');
		assert.deepEqual(errors, []);
		await context.close();
	});
});
