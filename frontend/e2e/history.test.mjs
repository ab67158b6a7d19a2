// The browsable history as a person sees it: the overview asks for its sparklines in batches
// (`GET /api/history?series=…&range=24h`, at most 16 series each), each card says today's min and
// max, and the chart dialog's range buttons switch the range (the request, the title, the axis), a
// drag zooms in (the span shown shrinks) and "Reset zoom" restores it, and "Download CSV" saves
// what is shown.
//
// Two tests:
// - "on the real API": nothing faked, against `sense-pulse run --sim` (the CPU temperature polled
//   every 5 s). A binary without the batched API (404) skips it, saying so.
// - "with a fixture history (page.route)": the same page, with every `/api/history?…` answered by
//   the test in the API's exact shape, so that rollups, threshold bands, exact numbers and a bus
//   that goes down can be checked whatever the gateway has stored.
//
//   npm run build && SENSE_PULSE_BIN=target/debug/sense-pulse node --test e2e/history.test.mjs
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { Stack, WIDE, assertFits, assertLabelled, inEachView, live, shot, shotEachView, waitFor } from './harness.mjs';
import { assertAxeClean } from './axe.mjs';

let stack;

before(async () => {
	stack = await Stack.start({ env: { SCHEDULE_SYSTEM: '5' } });
});

after(async () => {
	await stack?.stop();
});

const HISTORY = /\/api\/history\?/;
const RANGE_WORDS = { '1h': 'last hour', '24h': 'last 24 h', '7d': 'last 7 days', '30d': 'last 30 days', '90d': 'last 90 days' };
const RANGE_BUTTONS = { '1h': '1 h', '24h': '24 h', '7d': '7 d', '30d': '30 d', '90d': '90 d' };

/** The series and range of a history request's URL. */
function query(url) {
	const u = new URL(url);
	return { series: (u.searchParams.get('series') ?? '').split(',').filter(Boolean), range: u.searchParams.get('range') };
}

/** Records every batched history request of a page. */
function recordRequests(page) {
	const seen = [];
	page.on('request', (r) => HISTORY.test(r.url()) && seen.push(query(r.url())));
	return seen;
}

/** The overview asked for the series on screen in batches of at most 16, each once, for 24 h;
 *  never one series at a time on the old per-reading endpoint. */
function assertBatched(seen, requested) {
	const overview = seen.filter((q) => q.range === '24h');
	assert.ok(overview.length >= 1, 'the overview asked for its history');
	for (const q of overview) assert.ok(q.series.length >= 1 && q.series.length <= 16, `${q.series.length} series in one request`);
	const all = overview.flatMap((q) => q.series);
	assert.equal(new Set(all).size, all.length, 'no series asked for twice');
	assert.ok(all.includes('system:cpu_temp'), 'the CPU temperature is among them');
	assert.equal(overview.length, Math.ceil(all.length / 16), `${all.length} series in ${overview.length} requests`);
	assert.deepEqual(requested.filter((u) => /\/api\/history\/[^?]/.test(u)), [], 'no per-reading history requests');
}

const cpuTemp = (page) => page.locator('[data-testid="card-system"] [data-sensor="cpu_temp"]');
const dialogOf = (page) => page.getByTestId('history-dialog');
const chartOf = (page) => dialogOf(page).locator('svg[role="slider"]');

/** The span the chart shows (s), and its time-axis labels. */
async function shown(page) {
	const svg = chartOf(page);
	const from = Number(await svg.getAttribute('data-from'));
	const to = Number(await svg.getAttribute('data-to'));
	return { span: to - from, labels: await svg.locator('text.xtick').allTextContents() };
}

/** Clicks a range button: the request it makes, and the title once it is shown. */
async function pickRange(page, range) {
	const request = page.waitForRequest((r) => HISTORY.test(r.url()) && query(r.url()).range === range);
	await dialogOf(page).getByRole('group', { name: 'Range' }).getByRole('button', { name: RANGE_BUTTONS[range], exact: true }).click();
	const q = query((await request).url());
	assert.deepEqual(q.series, ['system:cpu_temp']);
	await waitFor(async () => (await dialogOf(page).locator('h2').innerText()).includes(RANGE_WORDS[range]), `the title says ${RANGE_WORDS[range]}`);
	assert.equal(
		await dialogOf(page).getByRole('button', { name: RANGE_BUTTONS[range], exact: true }).getAttribute('aria-pressed'),
		'true'
	);
}

/** Drags across the plot from `a` to `b` (fractions of the chart's width). */
async function drag(page, a, b) {
	const box = await chartOf(page).boundingBox();
	const y = box.y + box.height * 0.5;
	await page.mouse.move(box.x + box.width * a, y);
	await page.mouse.down();
	await page.mouse.move(box.x + box.width * ((a + b) / 2), y, { steps: 4 });
	await page.mouse.move(box.x + box.width * b, y, { steps: 4 });
	await page.mouse.up();
}

/** Drags to zoom in, then resets: the span shrinks, then is the whole range again. */
async function zoomAndReset(page, a, b) {
	const before = await shown(page);
	await drag(page, a, b);
	const zoomed = await waitFor(async () => {
		const s = await shown(page);
		return s.span < before.span * 0.5 && s;
	}, 'the span shown to shrink after the drag');
	assert.ok(zoomed.span <= before.span * (b - a) * 1.2 + 1, `zoomed to ${zoomed.span} s of ${before.span} s`);
	assert.match(await dialogOf(page).getByTestId('chart-stats').innerText(), /zoomed span/);
	await dialogOf(page).getByRole('button', { name: 'Reset zoom' }).click();
	await waitFor(async () => (await shown(page)).span === before.span, 'the whole range again');
	assert.equal(await dialogOf(page).getByRole('button', { name: 'Reset zoom' }).count(), 0);
	assert.deepEqual((await shown(page)).labels, before.labels);
	return zoomed;
}

/** Downloads the CSV: its file name and lines. */
async function downloadCsv(page) {
	const [download] = await Promise.all([
		page.waitForEvent('download'),
		dialogOf(page).getByRole('button', { name: 'Download CSV' }).click()
	]);
	const text = await readFile(await download.path(), 'utf8');
	return { name: download.suggestedFilename(), lines: text.trimEnd().split('\r\n') };
}

/** A page of the dashboard not loaded yet (`go` loads it), recording the app's errors and
 *  every request, so that the first requests of the page are seen too. */
async function blankPage() {
	const context = await stack.browser.newContext({ viewport: WIDE, colorScheme: 'dark' });
	const page = await context.newPage();
	const errors = [];
	page.on('pageerror', (e) => errors.push(e.message));
	page.on('console', (m) => m.type() === 'error' && !/Failed to load resource/.test(m.text()) && errors.push(m.text()));
	const requested = [];
	page.on('request', (r) => requested.push(r.url()));
	const seen = recordRequests(page);
	const go = () => page.goto(stack.base + '/');
	return { page, context, errors, requested, seen, go };
}

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const TODAY = /^today (-?[\d.]+)–(-?[\d.]+) ?°C$/;

describe('history', () => {
	test('on the real API: batched sparklines, today on a card, ranges, zoom and CSV', async (t) => {
		const probe = await stack.api('/api/history?series=system:cpu_temp&range=1h');
		if (probe.status === 404) {
			t.skip(`this sense-pulse has no batched GET /api/history?series=… yet (404: ${JSON.stringify(probe.body)})`);
			return;
		}
		// Two polls of the CPU temperature in its history (one every 5 s).
		await waitFor(async () => {
			const { status, body } = await stack.api('/api/history?series=system:cpu_temp&range=1h');
			assert.equal(status, 200, JSON.stringify(body));
			return body.series['system:cpu_temp']?.points.length >= 2;
		}, 'two points of the CPU temperature', 30_000, 500);

		const { page, context, errors, requested, seen, go } = await blankPage();
		await go();
		await live(page);
		const today = cpuTemp(page).getByTestId('today');
		await today.waitFor();
		const [, lo, hi] = (await today.innerText()).match(TODAY) ?? assert.fail(`today's range: ${await today.innerText()}`);
		const value = Number(await cpuTemp(page).getAttribute('data-value'));
		assert.ok(Number(lo) <= Number(hi), `${lo}–${hi}`);
		assert.ok(Number(lo) - 0.05 <= value && value <= Number(hi) + 0.05, `the value ${value} within today's ${lo}–${hi}`);
		assertBatched(seen, requested);

		await cpuTemp(page).click();
		await chartOf(page).waitFor();
		assert.match(await dialogOf(page).locator('h2').innerText(), /last 24 h/);
		const day = await shown(page);
		assert.equal(day.span, 86400);
		for (const l of day.labels) assert.match(l, /^\d\d:\d\d$/);

		await pickRange(page, '1h');
		await chartOf(page).waitFor();
		await waitFor(async () => (await shown(page)).span === 3600, 'an hour shown');
		const hour = await shown(page);
		assert.notDeepEqual(hour.labels, day.labels, 'the axis follows the range');
		for (const l of hour.labels) assert.match(l, /^\d\d:\d\d$/);

		// A week: 5-minute rollups, right after the start maybe none yet.
		await pickRange(page, '7d');
		const week = dialogOf(page).locator('svg[role="slider"], [data-testid="chart-empty"]').first();
		await week.waitFor();
		if (await chartOf(page).count()) {
			await waitFor(async () => (await shown(page)).span === 7 * 86400, 'a week shown');
			for (const l of (await shown(page)).labels) assert.match(l, /^\d{1,2} [A-Z][a-z]{2}$/);
		} else assert.match(await week.innerText(), /No history yet|Not enough data yet/);

		await pickRange(page, '1h');
		await waitFor(async () => (await chartOf(page).count()) && (await shown(page)).span === 3600, 'an hour shown again');
		const csv = await downloadCsv(page);
		assert.equal(csv.name, 'sense-pulse_system_cpu_temp_1h.csv');
		assert.equal(csv.lines[0], 'timestamp,value (°C)');
		assert.ok(csv.lines.length >= 3, `${csv.lines.length - 1} rows`);
		for (const line of csv.lines.slice(1)) {
			const [ts, v] = line.split(',');
			assert.match(ts, ISO);
			assert.ok(Number.isFinite(Number(v)), line);
		}
		// The points are at the right end of the hour: zoom into that end.
		await zoomAndReset(page, 0.6, 0.99);
		assert.deepEqual(errors, []);
		await context.close();
	});

	test('with a fixture history (page.route): rollup band, thresholds, numbers, zoom, CSV, bus down', async () => {
		const now = Date.now() / 1000;
		const midnight = new Date(now * 1000).setHours(0, 0, 0, 0) / 1000;
		const SPANS = { '1h': 3600, '24h': 86400, '7d': 7 * 86400, '30d': 30 * 86400, '90d': 90 * 86400 };
		const RES = { '1h': 0, '24h': 0, '7d': 300, '30d': 3600, '90d': 3600 };
		/** The CPU temperature: 40–60 °C, today 10 and 95 °C once each, yesterday 1 °C once. */
		function cpu(range) {
			const from = now - SPANS[range];
			const res = RES[range];
			const step = res || (range === '1h' ? 60 : 300);
			const points = [];
			for (let t = Math.ceil(from / step) * step; t < now - 300; t += step) {
				const v = 50 + 10 * Math.sin(t / 5000);
				points.push(res ? [t, v - 2, v, v + 2] : [t, v]);
			}
			if (!res) {
				const extra = [[now - 240, 95], [now - 120, 10]];
				if (midnight - 60 > from) extra.push([midnight - 60, 1]);
				points.push(...extra);
				points.sort((a, b) => a[0] - b[0]);
			}
			return points;
		}
		const stats = (points) => {
			const lo = points.map((p) => p[1]);
			const hi = points.map((p) => p.at(-1));
			const mean = points.map((p) => (p.length === 4 ? p[2] : p[1]));
			return points.length
				? { min: Math.min(...lo), mean: mean.reduce((a, b) => a + b, 0) / mean.length, max: Math.max(...hi) }
				: { min: null, mean: null, max: null };
		};
		let busDown = false;
		const answered = {};

		const { page, context, errors, requested, seen, go } = await blankPage();
		await page.route('**/api/history?**', async (route) => {
			const { series, range } = query(route.request().url());
			if (busDown)
				return route.fulfill({ status: 503, contentType: 'application/json', body: JSON.stringify({ error: 'the data bus is unavailable' }) });
			const body = { range, resolution: RES[range], from: now - SPANS[range], to: now, series: {} };
			for (const id of series) {
				const i = id.indexOf(':');
				// Every other series: the same day, so that each row has a today line as it will.
				const points = id === 'system:cpu_temp' || range === '24h' ? cpu(range) : [];
				body.series[id] = { source: id.slice(0, i), sensor: id.slice(i + 1), unit: id === 'system:cpu_temp' ? 'C' : null, points, ...stats(points) };
			}
			answered[range] = body;
			return route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(body) });
		});
		await go();
		await live(page);

		// Today: 10 and 95 °C, not yesterday's 1 °C (the live values are in between).
		const today = cpuTemp(page).getByTestId('today');
		await today.waitFor();
		assert.match(await today.innerText(), /^today 10–95 ?°C$/);
		assertBatched(seen, requested);

		await cpuTemp(page).click();
		await chartOf(page).waitFor();
		// 95 °C reaches into the hot band, 60–80 °C is warm.
		for (const band of ['warm', 'hot']) assert.ok(await dialogOf(page).locator(`[data-band="${band}"]`).isVisible(), band);
		assert.ok(await dialogOf(page).getByText('hot', { exact: true }).isVisible());

		await pickRange(page, '7d');
		await waitFor(async () => (await shown(page)).span === 7 * 86400, 'a week shown');
		const week = await shown(page);
		for (const l of week.labels) assert.match(l, /^\d{1,2} [A-Z][a-z]{2}$/);
		assert.ok(await dialogOf(page).locator('path.range').isVisible(), 'the min–max band');
		const expected = answered['7d'].series['system:cpu_temp'];
		const numbers = await dialogOf(page).getByTestId('chart-stats').innerText();
		const fmt = (v) => {
			const r = Math.round(v * 100) / 100;
			const d = Number.isInteger(r) ? 0 : 2;
			return r.toLocaleString('en-GB', { minimumFractionDigits: d, maximumFractionDigits: d });
		};
		for (const [word, v] of [['min', expected.min], ['mean', expected.mean], ['max', expected.max]])
			assert.match(numbers, new RegExp(`${word}\\s+${fmt(v).replace('.', '\\.')} °C`), `${word} in ${numbers}`);
		// Readable and named in every view (the bands' words, the pressed range), and it fits a phone.
		await assertAxeClean(page, 'the history dialog');
		await inEachView(page, async (view) => assertFits(page, view.viewport.width));
		await assertLabelled(page);
		await shotEachView(page, 'history-7d');

		const csv = await downloadCsv(page);
		assert.equal(csv.name, 'sense-pulse_system_cpu_temp_7d.csv');
		assert.equal(csv.lines[0], 'timestamp,min (°C),mean (°C),max (°C)');
		assert.equal(csv.lines.length - 1, expected.points.length);
		const [ts, ...values] = csv.lines[1].split(',');
		assert.equal(ts, new Date(expected.points[0][0] * 1000).toISOString());
		assert.deepEqual(values.map(Number), expected.points[0].slice(1).map((v) => Math.round(v * 1000) / 1000));

		// A drag over the middle third: about two days, the axis in finer steps.
		const zoomed = await zoomAndReset(page, 0.4, 0.7);
		assert.notDeepEqual(zoomed.labels, week.labels);
		// The keyboard does the same: + in, − back out.
		await chartOf(page).focus();
		await page.keyboard.press('+');
		await waitFor(async () => (await shown(page)).span < week.span, 'zoomed in by +');
		await page.keyboard.press('-');
		await waitFor(async () => (await shown(page)).span === week.span, 'back out by −');

		// The bus goes down: said, and the week stays on screen.
		busDown = true;
		await dialogOf(page).getByRole('button', { name: '30 d', exact: true }).click();
		const down = dialogOf(page).getByTestId('history-bus-down');
		await down.waitFor();
		assert.match(await down.innerText(), /data bus is down.*Showing what was loaded before/);
		assert.equal((await shown(page)).span, week.span);
		assert.match(await dialogOf(page).locator('h2').innerText(), /last 7 days/);
		await shot(page, 'history-bus-down');

		// With a today line on every row, the overview on a phone stays as short as
		// e2e/a11y.test.mjs wants it (the problem strip and the cards of monitors not heard aside).
		await page.keyboard.press('Escape');
		await dialogOf(page).waitFor({ state: 'hidden' });
		await page.setViewportSize({ width: 390, height: 844 });
		await waitFor(() => page.evaluate(() => innerWidth === 390), 'the page at 390 px');
		await waitFor(async () => (await page.getByTestId('today').count()) >= 15, 'a today line on the rows');
		const tall = await page.evaluate(() => {
			const added = [...document.querySelectorAll('[data-testid="problems"], [data-testid="summary"], [data-testid="alerts-banner"], [data-testid^="card-co2-"]')]
				.filter((el) => /not heard/.test(el.textContent ?? '') || el.matches('[data-testid="problems"], [data-testid="summary"], [data-testid="alerts-banner"]'))
				.reduce((a, el) => a + el.getBoundingClientRect().height, 0);
			return { height: document.documentElement.scrollHeight, added };
		});
		console.log(`overview at 390 px with today lines: ${tall.height} px (${tall.added} px of it problems and monitors not heard)`);
		assert.ok(tall.height - tall.added < 3400, JSON.stringify(tall));
		assert.deepEqual(errors, []);
		await context.close();
	});
});
