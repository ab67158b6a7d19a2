import { describe, expect, test } from 'vitest';
import type { LinkHealth, Sources } from '$lib/api/types';
import { clock } from './format';
import { isNodeSource, linkLine, linkState, linkTrouble, linkWord, nodeIds, nodeName, nodeSensors } from './node';

const now = 1_796_536_800;
const link = (extra: Partial<LinkHealth> = {}): LinkHealth => ({
	port: '/dev/ttyACM0',
	connected: true,
	since: now - 600,
	last_frame: now - 1,
	frames: 300,
	bad_frames: 0,
	restarts: 0,
	firmware: '0.1.0',
	protocol: '1.0',
	measures: ['temperature', 'humidity', 'pressure'],
	led_matrix: false,
	...extra
});
const reading = { value: 1, unit: null, timestamp: now };

describe('node sources', () => {
	test('are the ids starting with node-, sorted, whatever else is on the bus', () => {
		const view = { readings: {}, status: null };
		const sources: Sources = { sensors: view, 'node-zeta': view, system: view, 'node-pico-e661': view, 'node-': view };
		expect(nodeIds(sources)).toEqual(['node-pico-e661', 'node-zeta']);
		expect(isNodeSource('node-sim-pico')).toBe(true);
		expect(isNodeSource('nodes')).toBe(false);
		expect(nodeName('node-pico-e661')).toBe('pico-e661');
	});

	test('show what they sent and what they say they measure, the known ones first', () => {
		expect(nodeSensors({ pressure: reading, temperature: reading }, undefined)).toEqual(['temperature', 'pressure']);
		expect(nodeSensors({ temperature: reading }, link({ measures: ['humidity', 'temperature'] }))).toEqual(['temperature', 'humidity']);
		expect(nodeSensors({ light: reading }, link())).toEqual(['temperature', 'humidity', 'pressure', 'light']);
		expect(nodeSensors({}, link({ measures: [] }))).toEqual([]);
	});
});

describe('link health in words', () => {
	test('the port, firmware and protocol; what the node has not said is left out', () => {
		expect(linkLine(link())).toBe('USB serial /dev/ttyACM0 · firmware 0.1.0 · protocol 1.0');
		expect(linkLine(link({ firmware: null, protocol: null }))).toBe('USB serial /dev/ttyACM0');
	});

	test('damaged frames and restarts only when there were any', () => {
		expect(linkTrouble(link())).toEqual([]);
		expect(linkTrouble(link({ bad_frames: 1, restarts: 1 }))).toEqual(['1 damaged frame skipped', 'restarted 1 time']);
		expect(linkTrouble(link({ bad_frames: 12, restarts: 3 }))).toEqual(['12 damaged frames skipped', 'restarted 3 times']);
	});

	test('connected, lost, or never heard: with since when', () => {
		expect(linkState(link(), now)).toBe(`Connected since ${clock(now - 600)} (10 min ago)`);
		const lost = link({ connected: false, since: now - 90 });
		expect(linkWord(lost)).toBe('lost');
		expect(linkState(lost, now)).toBe(`Link lost since ${clock(now - 90)} (1 min ago)`);
		const never = link({ connected: false, since: now - 30, frames: 0, last_frame: null });
		expect(linkWord(never)).toBe('not connected');
		expect(linkState(never, now)).toBe(`Not connected since ${clock(now - 30)} (30 s ago)`);
	});
});
