import { describe, expect, test } from 'vitest';
import type { Reading, SourceView, Sources } from '$lib/api/types';
import { co2Level } from './format';
import { insideTemp, outsideTemp, piHealth, worstCo2 } from './summary';

const now = 1_708_000_000;
const r = (value: Reading['value'], unit: string | null = null): Reading => ({ value, unit, timestamp: now });
const view = (readings: Record<string, Reading>): SourceView => ({ readings, status: null });

describe('summary row', () => {
	test('the worst CO2 is the highest among the monitors, at the cards’ level', () => {
		const sources: Sources = {
			co2: view({
				'office:co2': r(820, 'ppm'),
				'bedroom:co2': r(1620, 'ppm'),
				'kitchen:co2': r(1100, 'ppm'),
				'bedroom:temperature': r(21, 'C')
			})
		};
		expect(worstCo2(sources)).toEqual({ label: 'bedroom', ppm: 1620, level: 'alert', words: 'ventilate now' });
		sources.co2!.readings['bedroom:co2'] = r(null, 'ppm');
		expect(worstCo2(sources)).toMatchObject({ label: 'kitchen', ppm: 1100, level: co2Level(1100) });
	});

	test('no monitor, or none with a value: nothing, not 0', () => {
		expect(worstCo2({})).toBeNull();
		expect(worstCo2({ co2: view({ 'office:co2': r(null, 'ppm'), 'office:battery': r(80, '%') }) })).toBeNull();
	});

	test('inside is the Sense HAT compensated, else a node’s; never the CPU-warmed raw one', () => {
		const node = { 'node-pico-a': view({ temperature: r(19.5, 'C') }) };
		expect(insideTemp({ sensors: view({ temperature_compensated: r(21.2, 'C') }), ...node })).toMatchObject({
			from: 'Sense HAT',
			reading: { value: 21.2 }
		});
		expect(insideTemp({ sensors: view({ temperature_compensated: r(null, 'C'), temperature: r(35, 'C') }), ...node })).toMatchObject({
			from: 'Pico node pico-a',
			reading: { value: 19.5 }
		});
		expect(insideTemp({ sensors: view({ temperature: r(35, 'C') }) })).toBeNull();
	});

	test('outside is the weather’s, with its conditions', () => {
		expect(outsideTemp({ weather: view({ weather_temp: r(4, 'C'), weather_conditions: r('Light rain') }) })).toMatchObject({
			from: 'Light rain',
			reading: { value: 4 }
		});
		expect(outsideTemp({ weather: view({ weather_temp: r(4, 'C') }) })?.from).toBe('Weather');
		expect(outsideTemp({ weather: view({}) })).toBeNull();
	});

	test('the Pi’s health: one word at the cards’ levels, the numbers behind it', () => {
		const sys = (temp: number | null, disk: number | null, load: number | null = 0.42) => ({
			system: view({ cpu_temp: r(temp, 'C'), disk_percent: r(disk, '%'), load_1min: r(load) })
		});
		expect(piHealth(sys(48, 40))).toEqual({ word: 'OK', tone: 'good', detail: 'CPU 48 °C · load 0.42 · disk 40 %' });
		expect(piHealth(sys(65, 40))).toMatchObject({ word: 'Warm', tone: 'warn' });
		expect(piHealth(sys(82, 95))).toMatchObject({ word: 'Hot', tone: 'alert' });
		expect(piHealth(sys(50, 80))).toMatchObject({ word: 'Disk filling', tone: 'warn' });
		expect(piHealth(sys(65, 92))).toMatchObject({ word: 'Disk full', tone: 'alert' });
		// What is missing is left out, not shown as 0.
		expect(piHealth(sys(null, 40, null))).toEqual({ word: 'OK', tone: 'good', detail: 'disk 40 %' });
		expect(piHealth(sys(null, null, null))).toBeNull();
		expect(piHealth({})).toBeNull();
	});
});
