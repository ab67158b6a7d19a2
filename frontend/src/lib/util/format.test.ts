import { describe, expect, test } from 'vitest';
import type { SourceView } from '$lib/api/types';
import {
	aranetLabels,
	availability,
	co2Level,
	formatAge,
	formatReading,
	forecast,
	isStale
} from './format';

const reading = (value: number | string | boolean | null, unit: string | null, timestamp = 1000) => ({
	value,
	unit,
	timestamp
});
const status = (extra = {}) => ({
	source_id: 'x',
	last_poll: 1000,
	last_success: 1000,
	last_error: null,
	poll_count: 1,
	error_count: 0,
	...extra
});

describe('ages', () => {
	test.each([
		[0, 'now'],
		[4.4, 'now'],
		[12, '12 s'],
		[59, '59 s'],
		[60, '1 min'],
		[3599, '59 min'],
		[3600, '1 h'],
		[3900, '1 h 5 min'],
		[86400 * 2 + 5, '2 d'],
		[-3, 'now'],
		[NaN, '—']
	])('%s s is "%s"', (s, text) => expect(formatAge(s)).toBe(text));
});

describe('readings as shown', () => {
	test('temperatures follow the °C/°F choice', () => {
		expect(formatReading(reading(20, 'C'))).toEqual({ text: '20', unit: '°C' });
		expect(formatReading(reading(21.55, 'C'), 'C')).toEqual({ text: '21.6', unit: '°C' });
		expect(formatReading(reading(20, 'C'), 'F')).toEqual({ text: '68', unit: '°F' });
		expect(formatReading(reading(-40, 'C'), 'F')).toEqual({ text: '-40', unit: '°F' });
		// Other units are not converted.
		expect(formatReading(reading(20, '%'), 'F')).toEqual({ text: '20', unit: '%' });
	});

	test('missing and null are a dash, never 0', () => {
		expect(formatReading(undefined)).toEqual({ text: '—', unit: '' });
		expect(formatReading(reading(null, 'C'))).toEqual({ text: '—', unit: '' });
	});

	test('text, booleans, big numbers, durations and pressure', () => {
		expect(formatReading(reading('Running', null)).text).toBe('Running');
		expect(formatReading(reading(true, null)).text).toBe('yes');
		expect(formatReading(reading(178342, 'domains')).text).toBe('178,342');
		expect(formatReading(reading(113125, 'seconds')).text).toBe('1 d 7 h');
		expect(formatReading(reading(1017.8, 'mbar')).unit).toBe('hPa');
	});
});

describe('CO2 colours', () => {
	test.each([
		[400, 'good'],
		[999, 'good'],
		[1000, 'warn'],
		[1499, 'warn'],
		[1500, 'alert'],
		[3000, 'alert']
	])('%s ppm is %s', (ppm, level) => expect(co2Level(ppm)).toBe(level));
});

describe('staleness and availability', () => {
	test('a reading is stale after three intervals; on-demand sources never by age', () => {
		expect(isStale(1000, 30, 1090)).toBe(false);
		expect(isStale(1000, 30, 1091)).toBe(true);
		expect(isStale(1000, null, 999_999)).toBe(false);
	});

	test('no source or an expired status is unavailable', () => {
		expect(availability(undefined, 30, 1000)).toBe('unavailable');
		const expired: SourceView = { readings: { a: reading(1, null) }, status: null };
		expect(availability(expired, 30, 1000)).toBe('unavailable');
	});

	test('a status without readings is waiting; fresh is available', () => {
		expect(availability({ readings: {}, status: status() }, 30, 1000)).toBe('waiting');
		expect(availability({ readings: { a: reading(1, null, 990) }, status: status() }, 30, 1000)).toBe(
			'available'
		);
	});

	test('old readings, or the source saying so, are stale', () => {
		const old: SourceView = { readings: { a: reading(1, null, 100) }, status: status() };
		expect(availability(old, 30, 1000)).toBe('stale');
		const said: SourceView = { readings: { a: reading(1, null, 999) }, status: status({ stale: true }) };
		expect(availability(said, 300, 1000)).toBe('stale');
	});
});

describe('flattened readings rebuilt', () => {
	test('Aranet4 labels from `{label}:{metric}`', () => {
		const co2: SourceView = {
			readings: {
				'office:co2': reading(800, 'ppm'),
				'office:battery': reading(80, '%'),
				'bed room:co2': reading(500, 'ppm')
			},
			status: status()
		};
		expect(aranetLabels(co2)).toEqual(['bed room', 'office']);
	});

	test('the 3-day forecast from forecast_d{n}_*', () => {
		const weather: SourceView = {
			readings: {
				forecast_d0_date: reading('2024-02-15', null),
				forecast_d0_max_temp: reading(11, 'C'),
				forecast_d0_min_temp: reading(3, 'C'),
				forecast_d1_date: reading('2024-02-16', null),
				forecast_d1_description: reading('Sunny', null),
				forecast_d2_max_temp: reading(9, 'C')
			},
			status: status()
		};
		const days = forecast(weather);
		expect(days.map((d) => d.day)).toEqual([0, 1, 2]);
		expect(days[0]!.max?.value).toBe(11);
		expect(days[1]!.description).toBe('Sunny');
		expect(days[2]!.date).toBeNull();
	});
});
