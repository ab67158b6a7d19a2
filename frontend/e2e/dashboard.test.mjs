// End to end: the built dashboard in Debian's Chromium (playwright-core, no downloaded browser)
// against `sense-pulse run --sim`, started by the harness on a free port and stopped at the end.
//
//   SENSE_PULSE_BIN=target/debug/sense-pulse npm run e2e     (after npm run build)
//
// Screenshots at desktop and phone widths go to artifacts/screenshots/ at the repo root.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DESKTOP, PHONE, Stack, assertFits, assertLabelled, live, shot, waitFor } from './harness.mjs';

/** The stack every test here shares: `run --sim` on the in-process bus. */
let stack;
const api = (path, init) => stack.api(path, init);
const open = (path, viewport, colorScheme) => stack.open(path, viewport, colorScheme);

before(async () => {
	stack = await Stack.start();
});

after(async () => {
	await stack?.stop();
});

describe('dashboard', () => {
	test('the API replies have the generated shapes', async () => {
		const { status, body } = await api('/api/sources');
		assert.equal(status, 200);
		for (const [id, view] of Object.entries(body)) {
			assert.deepEqual(Object.keys(view).sort(), ['bus', 'readings', 'status'], id);
			assert.equal(view.bus.state, 'up', id);
			for (const r of Object.values(view.readings)) {
				assert.deepEqual(Object.keys(r).sort(), ['timestamp', 'unit', 'value']);
			}
		}
		const session = await api('/api/session');
		const { simulated, ...signIn } = session.body;
		assert.deepEqual(signIn, { auth_enabled: false, user: null });
		assert.ok(simulated.aranet4.length >= 1, 'run --sim says it is simulated');
		const config = await api('/api/config');
		for (const s of ['global', 'display', 'sleep', 'weather', 'pihole', 'aranet4', 'camera', 'schedule', 'auth', 'sensors'])
			assert.ok(s in config.body, s);
	});

	test('the overview shows every source live, with values and their ages', async () => {
		const { page, context, errors } = await open('/');
		await live(page);
		const { body } = await api('/api/sources');
		const cards = ['sensors', 'weather', 'system', 'pihole', 'tailscale', 'matrix'];
		const labels = [...new Set(Object.keys(body.co2.readings).map((k) => k.split(':')[0]))];
		assert.ok(labels.length >= 1, 'the simulation has Aranet4 monitors');
		for (const label of labels) cards.push(`co2-${label}`);
		for (const id of cards) {
			const card = page.getByTestId(`card-${id}`);
			await card.waitFor();
			await waitFor(async () => (await card.getAttribute('data-availability')) === 'available', `card ${id} live`, 15_000);
		}
		// Values as the API has them: numbers shown as numbers, never a made-up 0 for null.
		for (const [source, sensor] of [
			['system', 'cpu_percent'],
			['pihole', 'queries_today'],
			['tailscale', 'device_count'],
			['weather', 'weather_temp'],
			['sensors', 'pressure']
		]) {
			const row = page.locator(`[data-testid="card-${source}"] [data-sensor="${sensor}"]`);
			const value = Number(await row.getAttribute('data-value'));
			assert.ok(Number.isFinite(value), `${source}:${sensor} shown`);
			assert.equal((await row.innerText()).includes('no data'), false);
		}
		const nullRow = page.locator('[data-testid="card-sensors"] [data-sensor="temperature_compensated"]');
		if ((await api('/api/sources/sensors')).body.readings.temperature_compensated?.value === null) {
			assert.match(await nullRow.innerText(), /—/, 'null is shown as a dash, not 0');
		}
		// CO2 coloured by level (1000 / 1500 ppm).
		for (const label of labels) {
			const ppm = body.co2.readings[`${label}:co2`]?.value;
			if (typeof ppm !== 'number') continue;
			const level = await page.getByTestId(`card-co2-${label}`).getByTestId('co2-level').getAttribute('data-level');
			assert.equal(level, ppm >= 1500 ? 'alert' : ppm >= 1000 ? 'warn' : 'good', `${label} at ${ppm} ppm`);
		}
		assert.equal(await page.getByTestId('forecast-day').count(), 3, 'a 3-day forecast');
		// Raw and compensated temperature both listed.
		await page.locator('[data-testid="card-sensors"] [data-sensor="temperature"]').waitFor();
		// Sparklines are drawn from the history, and a click opens the 24 h chart.
		await page.locator('[data-testid="card-system"] [data-sensor="cpu_percent"]').click();
		const dialog = page.getByTestId('history-dialog');
		// Right after the start there may be one point only: then it says so (e2e/charts.test.mjs).
		await dialog.locator('svg[role="slider"], [data-testid="chart-empty"]').first().waitFor();
		await page.keyboard.press('Escape');
		await dialog.waitFor({ state: 'hidden' });
		// °C ↔ °F.
		const temp = page.locator('[data-testid="card-weather"] [data-sensor="weather_temp"]');
		const c = Number(await temp.getAttribute('data-value'));
		await page.getByTestId('unit-toggle').click();
		await waitFor(async () => (await temp.innerText()).includes('°F'), '°F shown');
		const shownF = Number((await temp.locator('.value').innerText()).replace(/[^\d.-]/g, ''));
		assert.ok(Math.abs(shownF - (c * 9) / 5 - 32) < 0.6, `${c} °C shown as ${shownF} °F`);
		await page.getByTestId('unit-toggle').click();
		await assertLabelled(page);
		await shot(page, 'overview-desktop-dark');
		assert.deepEqual(errors, []);
		await context.close();
	});

	test('a value pushed over the WebSocket appears without a reload', async () => {
		const { page, context, errors } = await open('/');
		const pushed = [];
		page.on('websocket', (ws) => {
			if (ws.url().includes('/ws/sources')) ws.on('framereceived', (f) => pushed.push(String(f.payload)));
		});
		await page.reload();
		await live(page);
		const row = page.locator('[data-testid="card-system"] [data-sensor="cpu_percent"]');
		const before = Number(await row.getAttribute('data-ts'));
		const framesBefore = pushed.length;
		// A poll now: the source writes, the gateway pushes, the page shows it.
		const trigger = await api('/api/command/orchestrator', {
			method: 'POST',
			body: JSON.stringify({ action: 'trigger', params: { service: 'system', wait: true } })
		});
		assert.equal(trigger.status, 200, JSON.stringify(trigger.body));
		const fresh = (await api('/api/sources/system')).body.readings.cpu_percent;
		assert.ok(fresh.timestamp > before, 'the poll wrote a newer reading');
		await waitFor(async () => Number(await row.getAttribute('data-ts')) === fresh.timestamp, 'the pushed reading on the page', 15_000);
		assert.equal(Number(await row.getAttribute('data-value')), fresh.value);
		assert.ok(
			pushed.slice(framesBefore).some((f) => f.includes('"system"') && f.includes(String(fresh.timestamp))),
			'it came over /ws/sources'
		);
		assert.deepEqual(errors, []);
		await context.close();
	});

	test('settings: a save is applied, a refused value is named next to its field', async () => {
		const { page, context, errors } = await open('/settings');
		const form = page.locator('form[data-section="display"]');
		const speed = form.locator('#display-scroll_speed');
		await speed.waitFor();
		await speed.fill('0.2');
		await form.getByRole('button', { name: 'Save' }).click();
		await form.getByTestId('save-status').filter({ hasText: 'Saved.' }).waitFor();
		assert.equal((await api('/api/config')).body.display.scroll_speed, 0.2);

		await speed.fill('5');
		await form.getByRole('button', { name: 'Save' }).click();
		const message = form.locator('[data-field="scroll_speed"] [data-testid="field-error"]');
		await message.waitFor();
		assert.match(await message.innerText(), /between 0\.01 and 1/);
		assert.equal(await speed.getAttribute('aria-invalid'), 'true');
		assert.equal((await api('/api/config')).body.display.scroll_speed, 0.2, 'nothing changed');
		await assertLabelled(page);
		await shot(page, 'settings-desktop-dark');
		assert.deepEqual(errors, []);
		await context.close();
	});

	test('settings: a form saved elsewhere since it loaded says to reload and overwrites nothing', async () => {
		const { page, context, errors } = await open('/settings');
		const form = page.locator('form[data-section="sleep"]');
		const start = form.locator('#sleep-start_hour');
		await start.waitFor();
		// Someone else (another tab, a phone) saves the same section meanwhile.
		const other = await api('/api/config', { method: 'POST', body: JSON.stringify({ sleep: { end_hour: 6 } }) });
		assert.equal(other.status, 200);
		await start.selectOption('21');
		await form.getByRole('button', { name: 'Save' }).click();
		const alert = form.getByRole('alert').filter({ hasText: /changed elsewhere/i });
		await alert.waitFor();
		assert.match(await alert.innerText(), /reload/i);
		const stored = (await api('/api/config')).body.sleep;
		assert.equal(stored.end_hour, 6, "the other writer's value stands");
		assert.notEqual(stored.start_hour, 21, 'the stale form wrote nothing');
		// Reloaded, the form shows the other writer's value and saves.
		await page.reload();
		await start.waitFor();
		assert.equal(await form.locator('#sleep-end_hour').inputValue(), '6');
		await start.selectOption('21');
		await form.getByRole('button', { name: 'Save' }).click();
		await form.getByTestId('save-status').filter({ hasText: 'Saved.' }).waitFor();
		assert.deepEqual(
			{ start: (await api('/api/config')).body.sleep.start_hour, end: (await api('/api/config')).body.sleep.end_hour },
			{ start: 21, end: 6 }
		);
		assert.deepEqual(errors, []);
		await context.close();
	});

	test('Aranet4 scan lists monitors to add; camera discovery lists cameras', async () => {
		const { page, context, errors } = await open('/settings');
		await page.getByTestId('aranet4-scan').click();
		await page.getByTestId('aranet4-found').first().waitFor({ timeout: 40_000 });
		const rows = await page.getByTestId('aranet4-row').count();
		const addable = page.getByTestId('aranet4-found').getByRole('button', { name: 'Add', exact: true });
		if (await addable.count()) {
			await addable.first().click();
			assert.equal(await page.getByTestId('aranet4-row').count(), rows + 1);
		}
		await page.getByTestId('camera-discover').click();
		await page.locator('[data-testid="camera-found"], ul[aria-label="Cameras found"] li').first().waitFor({ timeout: 40_000 });
		assert.deepEqual(errors, []);
		await context.close();
	});

	test('LED matrix: live preview, text shown, then cleared', async () => {
		const { page, context, errors } = await open('/matrix');
		const matrix = page.getByTestId('led-matrix');
		await matrix.waitFor();
		await page.locator('#led-text').fill('HI');
		await page.getByRole('button', { name: 'Show' }).click();
		await waitFor(async () => Number(await matrix.getAttribute('data-lit')) > 0, 'text on the matrix', 10_000);
		await page.getByTestId('led-clear').click();
		await page.getByTestId('led-result').filter({ hasText: /cleared/i }).waitFor();
		await waitFor(async () => Number(await matrix.getAttribute('data-lit')) === 0, 'a dark matrix after clear', 10_000);
		// Draw three pixels and send them: the live preview shows exactly those.
		for (const cell of ['Row 1, column 1', 'Row 4, column 5', 'Row 8, column 8'])
			await page.getByRole('gridcell', { name: new RegExp(`^${cell}:`) }).click();
		await page.getByRole('button', { name: 'Send to the matrix' }).click();
		await waitFor(async () => Number(await matrix.getAttribute('data-lit')) === 3, 'the drawn pixels on the matrix', 10_000);
		await page.getByTestId('led-clear').click();
		await waitFor(async () => Number(await matrix.getAttribute('data-lit')) === 0, 'dark again', 10_000);
		// Rotation: the preview can show the picture as the LEDs light it.
		await page.getByRole('button', { name: '90°', exact: true }).click();
		await page.getByRole('button', { name: '90°', pressed: true }).waitFor();
		await page.getByRole('button', { name: '0°', exact: true }).click();
		await assertLabelled(page);
		await shot(page, 'matrix-desktop-dark');
		assert.deepEqual(errors, []);
		await context.close();
	});

	test('status lists every source, and the log viewer filters by level', async () => {
		const { page, context, errors } = await open('/status');
		for (const id of ['sensors', 'co2', 'system', 'weather', 'pihole', 'tailscale']) {
			await page.getByTestId(`status-${id}`).waitFor();
		}
		await page.locator('[data-testid="logs-state"]', { hasText: 'live' }).waitFor();
		await page.getByTestId('log-level').selectOption('error');
		await page.locator('[data-testid="logs-state"]', { hasText: 'live' }).waitFor();
		await page.getByTestId('log-level').selectOption('debug');
		await page.locator('[data-testid="logs-state"]', { hasText: 'live' }).waitFor();
		await assertLabelled(page);
		await shot(page, 'status-desktop-dark');
		assert.deepEqual(errors, []);
		await context.close();
	});

	test('phone width (360 px) and the light theme: every page fits without sideways scrolling', async () => {
		for (const [path, name] of [
			['/', 'overview'],
			['/matrix', 'matrix'],
			['/camera', 'camera'],
			['/settings', 'settings'],
			['/status', 'status']
		]) {
			const { page, context, errors } = await open(path, PHONE, 'light');
			if (path === '/') await live(page);
			await page.locator('main h1, main h2').first().waitFor();
			await assertFits(page, PHONE.width);
			await shot(page, `${name}-phone-light`);
			assert.deepEqual(errors, []);
			await context.close();
		}
		const { page, context } = await open('/', PHONE, 'dark');
		await live(page);
		await shot(page, 'overview-phone-dark');
		await context.close();
	});

	test('with auth on, the dashboard asks for a login and then runs live', async () => {
		const enable = await api('/api/config', {
			method: 'POST',
			body: JSON.stringify({ auth: { enabled: true, username: 'admin', password: 'correct horse' } })
		});
		assert.equal(enable.status, 200, JSON.stringify(enable.body));
		await waitFor(async () => (await api('/api/sources')).status === 401, 'auth in force', 40_000, 250);
		const { page, context, errors } = await open('/');
		const form = page.getByRole('form', { name: 'Sign in' });
		await form.waitFor();
		await shot(page, 'login-desktop-dark');
		await form.getByLabel('Username').fill('admin');
		await form.getByLabel('Password').fill('wrong password');
		await form.getByRole('button', { name: 'Sign in' }).click();
		await page.getByText('Wrong username or password.').waitFor();
		await form.getByLabel('Password').fill('correct horse');
		await form.getByRole('button', { name: 'Sign in' }).click();
		await live(page);
		await page.getByTestId('card-system').waitFor();
		// The cookie opened the WebSocket too (a browser cannot send a header on one).
		await page.getByRole('button', { name: 'Sign out' }).click();
		await page.getByRole('form', { name: 'Sign in' }).waitFor();
		assert.deepEqual(errors.filter((e) => !/401/.test(e)), []);
		await context.close();
	});
});
