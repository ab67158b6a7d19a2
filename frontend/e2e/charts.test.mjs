// The sparklines and the 24 h chart as a person sees them, on a real Redis whose history lists
// the test writes: one reading says "not enough data yet"; the axis labels are distinct; a 0.1 °C
// wobble stays a flat line while a real change still shows.
//
//   npm run build && SENSE_PULSE_BIN=target/debug/sense-pulse node --test e2e/charts.test.mjs
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { Redis, Stack, WIDE, inEachView, live, shotEachView } from './harness.mjs';

let redis;
let stack;

before(async () => {
	redis = await Redis.start();
	// The Sense HAT reads at the start (again a second later if the CPU temperature it corrects
	// with was not there yet) and then not for a day: its history is what the test writes (or one
	// first reading).
	stack = await Stack.start({ redis: redis.url, env: { SCHEDULE_SENSORS: '86400' } });
});

after(async () => {
	await stack?.stop();
	await redis?.close();
});

const cli = (...args) => execFileSync('redis-cli', ['-p', String(redis.port), ...args], { encoding: 'utf8' }).trim();

/** Replaces a reading's stored 24 h history with `value(t)` every 10 minutes up to its last reading. */
function writeHistory(sensor, value) {
	const reading = JSON.parse(cli('GET', `source:sensors:${sensor}`));
	const end = reading.timestamp - 1;
	const entries = [];
	for (let t = end - 24 * 3600 + 600; t <= end; t += 600) entries.push(`${t.toFixed(1)} ${value(t, reading.value).toFixed(2)}`);
	cli('DEL', `history:sensors:${sensor}`);
	cli('RPUSH', `history:sensors:${sensor}`, ...entries);
	return reading;
}

const row = (page, sensor) => page.locator(`[data-testid="card-sensors"] [data-sensor="${sensor}"]`);

/** How much of its sparkline's height a row's line covers (0–1), as drawn. */
const sparkFill = (page, sensor) =>
	row(page, sensor)
		.locator('svg path')
		.evaluate((path) => path.getBBox().height / path.ownerSVGElement.viewBox.baseVal.height);

/** The y-axis labels of the open chart, as the DOM has them (lowest first). */
async function yLabels(page) {
	const ticks = page.getByTestId('history-dialog').locator('text.tick');
	return ticks.allTextContents();
}

describe('charts', () => {
	test('a reading with one point so far: the chart says there is not enough data yet', async () => {
		// The newest reading alone, as after a single poll.
		cli('LTRIM', 'history:sensors:pressure', '-1', '-1');
		assert.equal(cli('LLEN', 'history:sensors:pressure'), '1', 'one poll so far');
		const { page, context, errors } = await stack.open('/', WIDE);
		await live(page);
		await row(page, 'pressure').click();
		const dialog = page.getByTestId('history-dialog');
		const empty = dialog.getByTestId('chart-empty');
		await empty.waitFor();
		assert.match(await empty.innerText(), /^Not enough data yet: one reading so far \(1,0\d\d(\.\d)? hPa at \d\d:\d\d\)/);
		assert.equal(await dialog.locator('svg').count(), 0, 'no empty chart with a made-up axis');
		await shotEachView(page, 'chart-one-point');
		assert.deepEqual(errors, []);
		await context.close();
	});

	test('a 0.1 °C wobble stays flat in its sparkline, a real change fills it, and the axis labels are distinct', async () => {
		// A tenth of a degree up and down over the day; the humidity from 30 % to 70 %.
		writeHistory('temperature', (t, now) => now - 0.05 + 0.05 * Math.sin(t / 3600));
		writeHistory('humidity', (t, now) => now - 20 + 20 * Math.sin(t / 7200));
		const { page, context, errors } = await stack.open('/', WIDE);
		await live(page);
		await row(page, 'temperature').locator('svg path').waitFor();
		await row(page, 'humidity').locator('svg path').waitFor();
		await inEachView(page, async (view) => {
			const wobble = await sparkFill(page, 'temperature');
			const swing = await sparkFill(page, 'humidity');
			assert.ok(wobble < 0.1, `the 0.1 °C wobble covers ${(wobble * 100).toFixed(0)} % of its sparkline (${view.name})`);
			assert.ok(swing > 0.6, `the 40 % swing covers ${(swing * 100).toFixed(0)} % of its sparkline (${view.name})`);
		});
		await shotEachView(page, 'sparklines');

		for (const sensor of ['temperature', 'humidity']) {
			await row(page, sensor).click();
			const dialog = page.getByTestId('history-dialog');
			await dialog.locator('svg[role="slider"]').waitFor();
			const labels = await yLabels(page);
			assert.ok(labels.length >= 2, `${sensor}: ${labels}`);
			assert.equal(new Set(labels).size, labels.length, `${sensor}: distinct labels ${labels}`);
			const values = labels.map((l) => Number(l.replace(/,/g, '')));
			assert.deepEqual([...values].sort((a, b) => a - b), values, `${sensor}: labels in order, lowest first in the DOM`);
			if (sensor === 'temperature') await shotEachView(page, 'chart-wobble');
			await page.keyboard.press('Escape');
			await dialog.waitFor({ state: 'hidden' });
		}
		assert.deepEqual(errors, []);
		await context.close();
	});
});
