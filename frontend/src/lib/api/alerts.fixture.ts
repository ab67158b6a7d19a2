// An `/api/alerts` answer in the alert engine's announced shape (src/lib/api/alerts.ts), for the
// unit tests. The e2e test (e2e/pwa.test.mjs) serves the same shape.
import type { AlertEvent, Alerts } from './alerts';

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
			ntfy: { state: 'ok', last_error: null, last_success: now - 290, pending: 0 },
			webhook: { state: 'failing', last_error: 'POST https://hooks.example/x: 502 Bad Gateway', last_success: null, pending: 2 }
		}
	};
}
