// An `/api/alerts` answer (the generated `Alerts`), for the unit tests.
import type { AlertEvent, Alerts, ChannelHealth } from './types';

/** A channel's health: `off` unless said otherwise. */
export const channel = (over: Partial<ChannelHealth> = {}): ChannelHealth => ({
	state: 'off',
	last_error: null,
	last_success: null,
	last_failure: null,
	pending: 0,
	dropped: 0,
	...over
});

export function alertsFixture(now: number): Alerts {
	const fired: AlertEvent = {
		id: 'co2-high|co2|office:co2',
		rule: 'co2-high',
		name: 'CO₂ high',
		kind: 'fired',
		source: 'co2',
		sensor: 'office:co2',
		label: 'CO₂ · office',
		value: 1520,
		unit: 'ppm',
		threshold: 1400,
		condition: 'above',
		since: now - 600,
		at: now - 300,
		message: 'CO₂ high: office is at 1520 ppm (≥ 1400 ppm) since 14:02'
	};
	const coldFired: AlertEvent = {
		id: 'cold|weather|weather_temp',
		rule: 'cold',
		name: 'Frost',
		kind: 'fired',
		source: 'weather',
		sensor: 'weather_temp',
		label: 'Outside',
		value: -1.5,
		unit: 'C',
		threshold: 0,
		condition: 'below',
		since: now - 7200,
		at: now - 7100,
		message: 'Frost: Outside is at -1.5 °C (≤ 0 °C) since 12:12'
	};
	const coldCleared: AlertEvent = { ...coldFired, kind: 'cleared', value: 1.2, at: now - 3600, message: 'Frost cleared' };
	return {
		active: [fired],
		history: [coldFired, fired, coldCleared],
		channels: {
			ntfy: channel({ state: 'ok', last_success: now - 290 }),
			webhook: channel({
				state: 'failing',
				last_error: 'POST https://hooks.example/x: 502 Bad Gateway',
				last_failure: now - 120,
				pending: 2,
				dropped: 3
			})
		}
	};
}

/** A source that went down (no value, no threshold, no sensor). */
export function sourceDownFixture(now: number): AlertEvent {
	return {
		id: 'source-down|weather',
		rule: 'source-down',
		name: 'Source down',
		kind: 'fired',
		source: 'weather',
		sensor: null,
		label: 'Weather',
		value: null,
		unit: null,
		threshold: null,
		condition: 'source_down',
		since: now - 900,
		at: now - 300,
		message: 'Weather is down since 14:02'
	};
}
