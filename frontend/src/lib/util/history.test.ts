import { describe, expect, test } from 'vitest';
import {
	MAX_SERIES,
	RANGES,
	RANGE_SECONDS,
	RESOLUTION,
	historyPath,
	isRollup,
	parseSeriesId,
	seriesId,
	splitBatches
} from '$lib/api/history';
import {
	clampSpan,
	clipTo,
	csvName,
	downsample,
	localMidnight,
	pan,
	spanFromPixels,
	spanStats,
	timeTicks,
	toCsv,
	todayRange,
	zoomBy
} from './history';
import { bandsFor, batteryLow, co2Level, cpuTempLevel } from './thresholds';

/** Unix seconds of a local time. */
const local = (y: number, mo: number, d: number, h = 0, mi = 0) => new Date(y, mo - 1, d, h, mi).getTime() / 1000;

describe('ranges and series', () => {
	test('each range has the resolution the gateway answers with', () => {
		expect(RANGES.map((r) => [r, RESOLUTION[r]])).toEqual([
			['1h', 0],
			['24h', 0],
			['7d', 300],
			['30d', 3600],
			['90d', 3600]
		]);
		expect(RANGE_SECONDS['7d']).toBe(7 * 86400);
	});

	test('a series id splits at its first ":" (sensor ids may contain one)', () => {
		expect(seriesId('co2', 'office:co2')).toBe('co2:office:co2');
		expect(parseSeriesId('co2:office:co2')).toEqual({ source: 'co2', sensor: 'office:co2' });
		expect(parseSeriesId('sensors:temperature')).toEqual({ source: 'sensors', sensor: 'temperature' });
	});

	test('batches: at most 16 series each, no repeats, in order', () => {
		const ids = Array.from({ length: 35 }, (_, i) => `s:${i}`);
		const batches = splitBatches([...ids, 's:0', 's:3']);
		expect(batches.map((b) => b.length)).toEqual([MAX_SERIES, MAX_SERIES, 3]);
		expect(batches.flat()).toEqual(ids);
		expect(splitBatches([])).toEqual([]);
		expect(splitBatches(['a:b', 'a:b'])).toEqual([['a:b']]);
	});

	test('the request keeps ":" and encodes the rest of each id', () => {
		expect(historyPath(['sensors:temperature', 'co2:office:co2'], '24h')).toBe(
			'/api/history?series=sensors:temperature,co2:office:co2&range=24h'
		);
		expect(historyPath(['x:a&b'], '90d')).toBe('/api/history?series=x:a%26b&range=90d');
	});

	test('rollup buckets are told from raw points by their shape', () => {
		expect(isRollup([[1, 2, 3, 4]])).toBe(true);
		expect(isRollup([[1, 2]])).toBe(false);
		expect(isRollup([])).toBe(false);
	});
});

describe('today', () => {
	const noon = local(2024, 2, 15, 12);

	test('min and max since local midnight, yesterday left out', () => {
		expect(localMidnight(noon)).toBe(local(2024, 2, 15));
		const points: Array<[number, number]> = [
			[local(2024, 2, 14, 23, 50), 5], // yesterday
			[local(2024, 2, 15, 0, 10), 19.8],
			[local(2024, 2, 15, 8), 23.1],
			[local(2024, 2, 15, 11), 21]
		];
		expect(todayRange(points, noon)).toEqual({ min: 19.8, max: 23.1 });
	});

	test('fewer than two points today: nothing to say', () => {
		expect(todayRange(undefined, noon)).toBeNull();
		expect(todayRange([[local(2024, 2, 14, 22), 1], [local(2024, 2, 15, 1), 2]], noon)).toBeNull();
	});
});

describe('statistics and drawing', () => {
	test('raw points: min, mean and max; rollups: lowest min, mean of means, highest max', () => {
		expect(spanStats([[0, 1], [10, 3], [20, 5]])).toEqual({ min: 1, mean: 3, max: 5 });
		expect(spanStats([[0, 1], [10, 3], [20, 5]], [5, 25])).toEqual({ min: 3, mean: 4, max: 5 });
		expect(spanStats([[0, 1, 2, 3], [300, 0, 4, 9]])).toEqual({ min: 0, mean: 3, max: 9 });
		expect(spanStats([[0, 1]], [5, 6])).toBeNull();
		expect(spanStats([])).toBeNull();
	});

	test('clipping keeps one point either side so the line reaches the edges', () => {
		const p = [[0, 0], [10, 1], [20, 2], [30, 3], [40, 4]];
		expect(clipTo(p, [15, 25])).toEqual([[10, 1], [20, 2], [30, 3]]);
		expect(clipTo(p, [-5, 100])).toEqual(p);
	});

	test('a day of raw points becomes at most n averages', () => {
		const day = Array.from({ length: 2880 }, (_, i) => [i * 30, i % 2] as const);
		const d = downsample(day, 48);
		expect(d.length).toBe(48);
		for (const [, v] of d) expect(v).toBeCloseTo(0.5, 1);
		expect(downsample(day.slice(0, 10), 48)).toHaveLength(10);
	});
});

describe('zoom', () => {
	const domain = [1000, 1000 + 86400] as const;
	const plot = { left: 48, width: 580 };

	test('a drag between two x positions is that span of the axis, in either direction', () => {
		const span = spanFromPixels(48 + 145, 48 + 290, plot, domain, domain, 60);
		expect(span[0]).toBeCloseTo(1000 + 86400 / 4);
		expect(span[1]).toBeCloseTo(1000 + 86400 / 2);
		expect(spanFromPixels(48 + 290, 48 + 145, plot, domain, domain, 60)).toEqual(span);
		// Zoomed in already: the drag is within what is shown.
		const again = spanFromPixels(48, 48 + 290, plot, span, domain, 60);
		expect(again[0]).toBeCloseTo(span[0]);
		expect(again[1]).toBeCloseTo((span[0] + span[1]) / 2);
	});

	test('a span stays in the domain and is never narrower than the least', () => {
		expect(clampSpan(500, 2000, domain, 60)).toEqual([1000, 2500]);
		expect(clampSpan(5000, 5010, domain, 600)).toEqual([4705, 5305]);
		expect(clampSpan(0, 1e9, domain, 60)).toEqual(domain);
	});

	test('+ and − halve and double around a centre; panning moves without resizing', () => {
		expect(zoomBy(domain, 0.5, domain, 60)).toEqual([1000 + 21600, 1000 + 64800]);
		expect(zoomBy([2000, 4000], 0.5, domain, 60, 2000)).toEqual([2000, 3000]);
		expect(zoomBy([2000, 4000], 2, domain, 60)).toEqual([1000, 5000]);
		expect(pan([2000, 4000], 0.25, domain)).toEqual([2500, 4500]);
		expect(pan([1500, 3500], -1, domain)).toEqual([1000, 3000]);
	});
});

describe('time axis', () => {
	test('a day: round hours as HH:MM', () => {
		const from = local(2024, 2, 15, 9, 17);
		const ticks = timeTicks(from, from + 86400);
		expect(ticks.length).toBeGreaterThanOrEqual(3);
		expect(ticks.length).toBeLessThanOrEqual(6);
		for (const k of ticks) {
			expect(k.label).toMatch(/^\d\d:00$/);
			expect(k.t).toBeGreaterThanOrEqual(from);
		}
	});

	test('a week and more: dates at local midnight', () => {
		const from = local(2024, 2, 1, 15);
		const week = timeTicks(from, from + 7 * 86400);
		expect(week[0]!.t).toBe(local(2024, 2, 2));
		for (const k of week) expect(k.label).toMatch(/^\d{1,2} [A-Z][a-z]{2}$/);
		const quarter = timeTicks(from, from + 90 * 86400);
		expect(quarter.length).toBeLessThanOrEqual(6);
		for (const k of quarter) expect(new Date(k.t * 1000).getHours()).toBe(0);
	});

	test('an hour: minutes; a span over a day in hours: weekday and time', () => {
		const from = local(2024, 2, 15, 9, 7);
		expect(timeTicks(from, from + 3600).map((k) => k.label)).toEqual(['09:15', '09:30', '09:45', '10:00']);
		expect(timeTicks(from, from + 2 * 86400)[0]!.label).toMatch(/^[A-Z][a-z]{2} \d\d:00$/);
	});
});

describe('CSV', () => {
	test('raw points: ISO timestamp and value, the unit in the header', () => {
		const csv = toCsv([[1708000000, 21.25], [1708000060, 21.3333333]], false, '°C');
		expect(csv).toBe('timestamp,value (°C)\r\n2024-02-15T12:26:40.000Z,21.25\r\n2024-02-15T12:27:40.000Z,21.333\r\n');
	});

	test('rollups: min, mean and max columns; a zoom keeps what is shown only', () => {
		const buckets: Array<[number, number, number, number]> = [
			[1708000000, 400, 500, 600],
			[1708003600, 410, 510, 610],
			[1708007200, 420, 520, 620]
		];
		const csv = toCsv(buckets, true, 'ppm', [1708003000, 1708004000]).split('\r\n');
		expect(csv).toEqual(['timestamp,min (ppm),mean (ppm),max (ppm)', '2024-02-15T13:26:40.000Z,410,510,610', '']);
		expect(toCsv([], false, '')).toBe('timestamp,value\r\n');
	});

	test('the file name says source, sensor and range', () => {
		expect(csvName('co2', 'office:co2', '7d')).toBe('sense-pulse_co2_office-co2_7d.csv');
		expect(csvName('system', 'cpu_temp', '24h', true)).toBe('sense-pulse_system_cpu_temp_24h_zoom.csv');
	});
});

describe('thresholds', () => {
	test('levels', () => {
		expect([999, 1000, 1499, 1500].map(co2Level)).toEqual(['good', 'warn', 'warn', 'alert']);
		expect([59.9, 60, 80].map(cpuTempLevel)).toEqual(['good', 'warn', 'alert']);
		expect([14, 15].map(batteryLow)).toEqual([true, false]);
	});

	test('bands where a reading has levels, none elsewhere', () => {
		expect(bandsFor('co2', 'office:co2').map((b) => [b.from, b.to, b.level])).toEqual([
			[null, 1000, 'good'],
			[1000, 1500, 'warn'],
			[1500, null, 'alert']
		]);
		expect(bandsFor('system', 'cpu_temp').map((b) => b.label)).toEqual(['warm', 'hot']);
		expect(bandsFor('co2', 'office:battery')).toEqual([{ from: null, to: 15, level: 'alert', label: 'low' }]);
		expect(bandsFor('sensors', 'temperature')).toEqual([]);
		expect(bandsFor('co2', 'office:temperature')).toEqual([]);
	});
});
