// Failures are visible (issue 15, item 3): the simulated "garage" Aranet4 is out of range on every
// poll. Its card says it is not heard and since when; the overview's strip counts the problems and
// links to Status, where co2 is amber ("partial"), with the reason in words; healthy sources stay
// green; the log viewer shows a repeated line once, with its count.
//
//   npm run build && SENSE_PULSE_BIN=target/debug/sense-pulse node --test e2e/problems.test.mjs
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { NARROW, Stack, VIEWS, assertFits, assertLabelled, hasColour, live, shot, waitFor } from './harness.mjs';

const GARAGE = { label: 'garage', mac: 'D4:7B:0C:4A:11:03', enabled: true };

/** `run --sim` with a 5 s Bluetooth listen (office advertises at least every 4 s). */
let stack;
const api = (path, init) => stack.api(path, init);

before(async () => {
	stack = await Stack.start({ env: { ARANET4_TIMEOUT: '5' } });
});

after(async () => {
	await stack?.stop();
});

/** The clock time the dashboard shows for a Unix time, as the page's own locale and zone say. */
const clockIn = (page, t) =>
	page.evaluate((t) => new Date(t * 1000).toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit' }), t);

async function postConfig(patch) {
	const r = await api('/api/config', { method: 'POST', body: JSON.stringify(patch) });
	assert.equal(r.status, 200, JSON.stringify(r.body));
}

/** Polls `service` now (again, if a scheduled run was going), with `wait` until the run's end:
 *  then the answer fails (`success: false`) when the poll failed. */
function pollNow(service, wait = true) {
	return waitFor(
		async () => {
			const r = await api('/api/command/orchestrator', {
				method: 'POST',
				body: JSON.stringify({ action: 'trigger', params: { service, wait } })
			});
			assert.equal(r.status, 200, JSON.stringify(r.body));
			return r.body.data?.already_running ? null : r.body;
		},
		`a poll of ${service}`,
		30_000,
		250
	);
}

describe('problems', () => {
	test('the API: co2 is partial, naming the garage monitor and since when', async () => {
		const { body } = await api('/api/sources/co2');
		assert.equal(body.status.outcome, 'partial', JSON.stringify(body.status));
		assert.deepEqual(
			body.status.missing.map((m) => m.name),
			['garage']
		);
		assert.ok(body.readings['office:co2'] && body.readings['bedroom:co2'], 'the others are written');
	});

	test('the overview: a card for the monitor not heard, since when, and a strip counting the problems', async () => {
		const { body } = await api('/api/sources/co2');
		const since = body.status.missing[0].since;
		for (const { viewport, colorScheme: scheme, name } of VIEWS) {
			const { page, context, errors } = await stack.open('/', viewport, scheme);
			await live(page);
			const garage = page.getByTestId('card-co2-garage');
			await garage.waitFor();
			assert.equal(await garage.getByTestId('badge').innerText(), 'not heard');
			assert.equal(await garage.getAttribute('data-health'), 'warn', 'amber, not green');
			assert.ok(await hasColour(garage.getByTestId('badge'), 'color', '--warn'), 'the badge is drawn amber');
			assert.ok(await hasColour(garage, 'borderTopColor', '--warn'), 'the card is outlined amber');
			const text = await garage.innerText();
			assert.match(text, new RegExp(`Not heard since ${await clockIn(page, since)} \\(`), text);
			assert.match(text, /never heard before/, text);
			assert.match(text, /out of range, or its battery is flat\?/, text);

			// The strip: as many problems as it lists, the garage among them, and nothing about
			// the sources that work.
			const strip = page.getByTestId('problems');
			await strip.waitFor();
			const link = strip.getByTestId('problems-link');
			const count = Number(/^(\d+) problems?\b/.exec(await link.innerText())?.[1]);
			const items = await strip.locator('li').allInnerTexts();
			assert.equal(count, items.length, items.join(' | '));
			assert.ok(
				items.some((i) => i.startsWith('Aranet4 garage not heard since')),
				items.join(' | ')
			);
			for (const healthy of ['System', 'Weather', 'Pi-hole', 'Tailscale', 'Sense HAT']) {
				assert.ok(!items.some((i) => i.startsWith(healthy)), `${healthy} is fine: ${items.join(' | ')}`);
			}
			assert.equal(await strip.getAttribute('data-level'), 'warn');

			// Healthy sources and the monitors that are heard stay green.
			for (const id of ['system', 'co2-office', 'co2-bedroom']) {
				const card = page.getByTestId(`card-${id}`);
				await waitFor(async () => (await card.getAttribute('data-availability')) === 'available', `${id} live`);
				assert.equal(await card.getAttribute('data-health'), 'ok', id);
				assert.equal(await card.getByTestId('badge').innerText(), 'live', id);
				assert.ok(await hasColour(card.getByTestId('badge'), 'color', '--good'), `${id}: drawn green`);
			}
			if (viewport === NARROW) await assertFits(page, NARROW.width);
			await assertLabelled(page);
			await shot(page, `problems-overview-${name}`);

			if (name === 'desktop-dark') {
				await link.click();
				await page.waitForURL(/\/status$/);
				await page.getByTestId('status-co2').waitFor();
			}
			assert.deepEqual(errors, []);
			await context.close();
		}
	});

	test('Status: co2 is amber (partial) with the reason in words; a healthy source stays green', async () => {
		const { body } = await api('/api/sources/co2');
		const since = body.status.missing[0].since;
		for (const { viewport, colorScheme: scheme, name } of VIEWS) {
			const { page, context, errors } = await stack.open('/status', viewport, scheme);
			const co2 = page.getByTestId('status-co2');
			await co2.getByTestId('reason').waitFor();
			const state = co2.getByTestId('state');
			assert.equal(await state.innerText(), 'partial');
			assert.equal(await state.getAttribute('data-level'), 'warn', 'amber, never green');
			assert.ok(await hasColour(state, 'color', '--warn'), 'drawn amber');
			const reason = await co2.getByTestId('reason').innerText();
			assert.match(
				reason,
				new RegExp(`^Partial: readings written, but garage not heard since ${await clockIn(page, since)} \\(.+\\); never heard before\\.$`),
				reason
			);
			for (const id of ['system', 'weather']) {
				const s = page.getByTestId(`status-${id}`).getByTestId('state');
				assert.equal(await s.innerText(), 'available', id);
				assert.equal(await s.getAttribute('data-level'), 'good', id);
				assert.ok(await hasColour(s, 'color', '--good'), `${id}: drawn green`);
			}
			if (viewport === NARROW) await assertFits(page, NARROW.width);
			await assertLabelled(page);
			await shot(page, `problems-status-${name}`);
			assert.deepEqual(errors, []);
			await context.close();
		}
	});

	test('a source that fails as a whole is red; the log shows its repeated line once, with the count', async () => {
		// Only the out-of-range monitor, listened for 1 s: every co2 poll fails.
		await postConfig({ aranet4: { sensors: [GARAGE], timeout: 1 } });
		const { page, context, errors } = await stack.open('/status');
		await page.locator('[data-testid="logs-state"]', { hasText: 'live' }).waitFor();
		for (let i = 0; i < 3; i++) {
			const run = await pollNow('co2');
			assert.equal(run.success, false, JSON.stringify(run));
			assert.match(run.message ?? run.error ?? '', /garage/, JSON.stringify(run));
		}
		const line = /run failed job=source co2 --once error=exited with code 1: garage \(D4:7B:0C:4A:11:03\) not heard within 1 s/;
		const entry = page.getByTestId('log-entries').locator('.entry', { hasText: line });
		// The three failures (plus any scheduled one meanwhile) are one line with their count.
		await waitFor(async () => Number(await entry.getAttribute('data-count')) >= 3, 'the repeated line grouped', 20_000);
		assert.equal(await entry.count(), 1, 'shown once');
		const count = Number(await entry.getAttribute('data-count'));
		assert.equal(await entry.getByTestId('log-count').innerText(), `×${count}`);
		// Read out in words.
		assert.match(await entry.textContent(), new RegExp(`\\(repeated ${count} times since \\d\\d:\\d\\d:\\d\\d\\)`));

		// co2 is red on Status and on the overview.
		const state = page.getByTestId('status-co2').getByTestId('state');
		await waitFor(async () => (await state.innerText()) === 'failing', 'co2 failing on Status');
		assert.equal(await state.getAttribute('data-level'), 'alert');
		assert.ok(await hasColour(state, 'color', '--alert'), 'drawn red');
		await shot(page, 'problems-status-failing-desktop-dark');
		const overview = await stack.open('/');
		await live(overview.page);
		const strip = overview.page.getByTestId('problems');
		await waitFor(async () => (await strip.getAttribute('data-level')) === 'alert', 'the strip red');
		const items = await strip.locator('li').allInnerTexts();
		assert.ok(items.some((i) => /^Aranet4: garage .* not heard within 1 s/.test(i)), items.join(' | '));
		const garage = overview.page.getByTestId('card-co2-garage');
		assert.equal(await garage.getAttribute('data-health'), 'warn');
		await shot(overview.page, 'problems-overview-failing-desktop-dark');
		assert.deepEqual(overview.errors, []);
		await overview.context.close();

		// Back to the simulation's three monitors: one poll (5 s of listening: longer than a
		// command's answer may take, so not waited for), and co2 is partial again.
		await postConfig({ aranet4: { sensors: [], timeout: 5 } });
		await pollNow('co2', false);
		await waitFor(async () => (await state.innerText()) === 'partial', 'co2 partial again', 30_000);
		assert.deepEqual(errors, []);
		await context.close();
	});
});
