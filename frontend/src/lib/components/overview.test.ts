// The overview's summary row and active alerts, the /alerts page, and what the header and the
// banner say when the app opened offline from the copy this device kept.
import { flushSync, mount, unmount, type Component } from 'svelte';
import { afterEach, describe, expect, test } from 'vitest';
import type { Reading, SourceView } from '$lib/api/types';
import { alertsFixture } from '$lib/api/alerts.fixture';
import { alerts, clock, sources } from '$lib/app.svelte';
import { clock as clockTime } from '$lib/util/format';
import AlertsPage from '../../routes/alerts/+page.svelte';
import AlertsBanner from './AlertsBanner.svelte';
import ConnectionStatus from './ConnectionStatus.svelte';
import FrozenBanner from './FrozenBanner.svelte';
import SummaryRow from './SummaryRow.svelte';

let target: HTMLElement;
let component: ReturnType<typeof mount> | null = null;
const now = Math.floor(Date.now() / 1000);
clock.now = now;

afterEach(() => {
	if (component) unmount(component);
	component = null;
	target?.remove();
	sources.sources = {};
	sources.lost = false;
	sources.state = 'idle';
	sources.savedCopy = null;
	alerts.clear();
});

function render(C: Component<any>, props: Record<string, unknown> = {}) {
	target = document.createElement('div');
	document.body.append(target);
	component = mount(C, { target, props });
	flushSync();
	return target;
}

const r = (value: Reading['value'], unit: string | null = null): Reading => ({ value, unit, timestamp: now });
const view = (readings: Record<string, Reading>): SourceView => ({ readings, status: null });
const text = (el: Element, id: string) => el.querySelector(`[data-testid="${id}"]`)?.textContent?.replace(/\s+/g, ' ').trim();

describe('SummaryRow', () => {
	test('the worst CO2 room with its level, inside, outside, the Pi in a word', () => {
		sources.sources = {
			co2: view({ 'office:co2': r(900, 'ppm'), 'bedroom:co2': r(1234, 'ppm') }),
			sensors: view({ temperature_compensated: r(21.4, 'C'), temperature: r(33, 'C') }),
			weather: view({ weather_temp: r(6, 'C'), weather_conditions: r('Overcast') }),
			system: view({ cpu_temp: r(52, 'C'), load_1min: r(0.5), disk_percent: r(41, '%') })
		};
		const el = render(SummaryRow);
		expect(text(el, 'summary-co2')).toBe('Worst CO₂ 1,234 ppm bedroom · ventilate soon');
		expect(el.querySelector('[data-testid="summary-co2"]')!.getAttribute('data-level')).toBe('warn');
		expect(text(el, 'summary-inside')).toBe('Inside 21.4 °C Sense HAT');
		expect(text(el, 'summary-outside')).toBe('Outside 6 °C Overcast');
		expect(text(el, 'summary-pi')).toBe('Pi OK CPU 52 °C · load 0.50 · disk 41 %');
		// No alert engine answered yet: no alerts tile.
		expect(el.querySelector('[data-testid="summary-alerts"]')).toBeNull();
	});

	test('missing sources are dashes saying why, never 0', () => {
		const el = render(SummaryRow);
		expect(text(el, 'summary-co2')).toBe('Worst CO₂ — no monitor heard');
		expect(text(el, 'summary-inside')).toBe('Inside — no indoor sensor');
		expect(text(el, 'summary-outside')).toBe('Outside — no weather');
		expect(text(el, 'summary-pi')).toBe('Pi — no system data');
		expect(el.textContent).not.toMatch(/\b0\b/);
	});

	test('the active alerts count links to the history', async () => {
		alerts.data = alertsFixture(now);
		const el = render(SummaryRow);
		const tile = el.querySelector<HTMLAnchorElement>('[data-testid="summary-alerts"]')!;
		expect(tile.getAttribute('href')).toBe('/alerts');
		expect(tile.textContent).toContain('1');
		expect(tile.getAttribute('data-level')).toBe('alert');
	});
});

describe('AlertsBanner', () => {
	test('an alert region, empty without alerts; with one: what, how much, against what, since when', () => {
		const el = render(AlertsBanner);
		const region = el.querySelector('[data-testid="alerts-banner"]')!;
		expect(region.getAttribute('role')).toBe('alert');
		expect(region.textContent?.trim()).toBe('');

		alerts.data = alertsFixture(now);
		flushSync();
		expect(region.querySelector('h2')!.textContent).toContain('1 active alert');
		const item = region.querySelector('[data-testid="active-alert"]')!;
		expect(item.textContent!.replace(/\s+/g, ' ').trim()).toBe(
			`CO₂ high CO₂ · office 1,520 ppm (≥ 1,400 ppm) since ${clockTime(now - 600)}`
		);
		expect(region.querySelector('a[href="/alerts"]')).not.toBeNull();
	});

	test('the feature absent (404): nothing at all', () => {
		alerts.absent = true;
		const el = render(AlertsBanner);
		expect(el.textContent?.trim()).toBe('');
	});
});

describe('the alerts page', () => {
	test('history newest first; cleared ones say how long they lasted; the channels’ health', () => {
		alerts.data = alertsFixture(now);
		const el = render(AlertsPage);
		const rows = [...el.querySelectorAll('[data-testid="history-row"]')].map((li) => li.textContent!.replace(/\s+/g, ' ').trim());
		expect(rows).toEqual([
			`${clockTime(now - 300)} fired CO₂ high · CO₂ · office 1,520 ppm (≥ 1,400 ppm)`,
			`${clockTime(now - 3600)} cleared Frost · Outside 1.2 °C (≤ 0 °C) lasted 1 h`,
			`${clockTime(now - 7100)} fired Frost · Outside -1.5 °C (≤ 0 °C)`
		]);
		expect(text(el, 'alerts-active')).toContain(`since ${clockTime(now - 600)} (10 min)`);
		const channel = (name: string) =>
			[...el.querySelectorAll(`[data-channel="${name}"] > *`)].map((n) => n.textContent!.trim());
		expect(channel('ntfy')).toEqual(['ntfy', 'ok', 'last sent 4 min ago']);
		expect(channel('webhook')).toEqual([
			'Webhook',
			'failing',
			'failed 2 min ago: POST https://hooks.example/x: 502 Bad Gateway',
			'2 waiting',
			'3 dropped (too many waiting)'
		]);
	});

	test('without an alert engine it says so', () => {
		alerts.absent = true;
		const el = render(AlertsPage);
		expect(text(el, 'alerts-absent')).toBe('This Sense Pulse server has no alerts.');
	});
});

describe('opened offline', () => {
	test('the header says Offline, never Live; the banner says since when the values were saved', () => {
		const saved = now - 300;
		sources.seed({ system: view({ cpu_percent: r(12, '%') }) }, saved);
		sources.state = 'closed';
		sources.lost = true;
		const el = render(ConnectionStatus);
		const status = el.querySelector('[data-testid="connection"]')!;
		expect(status.textContent).toContain('Offline');
		expect(status.textContent).not.toContain('Live');
		expect(status.getAttribute('title')).toContain(`values frozen since ${clockTime(saved)}`);
		unmount(component!);
		target.remove();

		const banner = render(FrozenBanner).querySelector('[data-testid="frozen-banner"]')!;
		expect(banner.getAttribute('data-offline')).toBe('true');
		expect(banner.textContent).toContain(`Data frozen since ${clockTime(saved)} — offline: the values saved on this device.`);
		expect(banner.textContent).toContain('not live');
	});
});
