// The history as a person sees it, in components: today's range on a row, the chart's band,
// thresholds, numbers and keyboard zoom, the dialog's ranges and states.
import { flushSync, mount, unmount, type Component } from 'svelte';
import { afterEach, beforeAll, describe, expect, test, vi } from 'vitest';
import { ApiError } from '$lib/api/client';
import type { HistoryBatch, HistoryRange, HistorySeries } from '$lib/api/history';
import { api, clock, prefs } from '$lib/app.svelte';
import { chart } from '$lib/stores/chart.svelte';
import { localMidnight } from '$lib/util/history';
import { bandsFor } from '$lib/util/thresholds';
import Chart from './Chart.svelte';
import HistoryDialog from './HistoryDialog.svelte';
import ValueRow from './ValueRow.svelte';

let target: HTMLElement;
let component: ReturnType<typeof mount> | null = null;

beforeAll(() => {
	// jsdom has <dialog> without its modal methods.
	const proto = HTMLDialogElement.prototype;
	proto.showModal ??= function (this: HTMLDialogElement) {
		this.open = true;
	};
	proto.close = function (this: HTMLDialogElement) {
		if (!this.open) return;
		this.open = false;
		this.dispatchEvent(new Event('close'));
	};
});

afterEach(() => {
	chart.target = null;
	flushSync();
	if (component) unmount(component);
	component = null;
	target?.remove();
	vi.restoreAllMocks();
	prefs.tempUnit = 'C';
});

function render<P extends Record<string, any>>(C: Component<P>, props: P) {
	target = document.createElement('div');
	document.body.append(target);
	component = mount(C, { target, props });
	flushSync();
	return target;
}

// Midday, so "today" has hours before it.
const now = localMidnight(Date.now() / 1000) + 12 * 3600;
clock.now = now;

function series(source: string, sensor: string, points: number[][], unit: string | null = 'C'): HistorySeries {
	const values = points.flatMap((p) => p.slice(1));
	return {
		source,
		sensor,
		unit,
		points: points as HistorySeries['points'],
		min: values.length ? Math.min(...values) : null,
		mean: values.length ? values.reduce((a, b) => a + b, 0) / values.length : null,
		max: values.length ? Math.max(...values) : null
	};
}

function batch(range: HistoryRange, resolution: number, all: Record<string, HistorySeries>): HistoryBatch {
	const span = { '1h': 3600, '24h': 86400, '7d': 7 * 86400, '30d': 30 * 86400, '90d': 90 * 86400 }[range];
	return { range, resolution, from: now - span, to: now, series: all };
}

describe('ValueRow: today', () => {
	test('shows today’s lowest and highest under the value, yesterday left out, in °F when chosen', async () => {
		const points = [
			[now - 13 * 3600, 5], // yesterday evening
			[now - 11 * 3600, 19.8],
			[now - 6 * 3600, 23.1],
			[now - 60, 21]
		];
		const spy = vi
			.spyOn(api, 'historyBatch')
			.mockResolvedValue(batch('24h', 0, { 'sensors:temperature': series('sensors', 'temperature', points) }));
		const reading = { value: 21, unit: 'C', timestamp: now - 30 };
		const el = render(ValueRow, { source: 'sensors', sensor: 'temperature', label: 'Temperature', reading });
		await vi.waitFor(() => expect(el.querySelector('[data-testid="today"]')).not.toBeNull());
		expect(spy).toHaveBeenCalledWith(['sensors:temperature'], '24h');
		expect(el.querySelector('[data-testid="today"]')!.textContent).toBe('today 19.8–23.1°C');
		// Part of the row's name, as a sentence.
		expect(el.querySelector('button')!.textContent).toContain('21°C, 30 s ago, today 19.8–23.1°C. Show');
		prefs.tempUnit = 'F';
		flushSync();
		expect(el.querySelector('[data-testid="today"]')!.textContent).toBe('today 67.6–73.6°F');
	});
});

describe('Chart', () => {
	const domain = [now - 7 * 86400, now] as const;
	const buckets = Array.from({ length: 7 * 288 }, (_, i) => {
		const t = domain[0] + i * 300;
		const mean = 900 + 400 * Math.sin(i / 100);
		return [t, mean - 50, mean, mean + 50];
	});

	test('rollups: the min–max as a band and the mean as the line, with the threshold bands and the numbers', () => {
		const el = render(Chart, {
			points: buckets,
			domain,
			resolution: 300,
			unit: 'ppm',
			scale: 'ppm',
			bands: bandsFor('co2', 'office:co2'),
			stats: { min: 450, mean: 900, max: 1350 }
		});
		expect(el.querySelector('path.range')!.getAttribute('d')).toMatch(/^M[\d.]+ [\d.]+L.*Z$/);
		expect(el.querySelector('path.line')!.getAttribute('d')!.split('L').length).toBeGreaterThan(1000);
		expect([...el.querySelectorAll('[data-band]')].map((b) => b.getAttribute('data-band'))).toEqual([
			'good',
			'ventilate soon'
		]);
		expect(el.querySelector('[data-testid="chart-stats"]')!.textContent).toMatch(
			/min\s*450 ppm.*mean\s*900 ppm.*max\s*1,350 ppm.*whole range/s
		);
		// The axis says dates over a week.
		for (const t of el.querySelectorAll('text.xtick')) expect(t.textContent).toMatch(/^\d{1,2} [A-Z][a-z]{2}$/);
	});

	test('+ zooms in around the cursor, − back out; the numbers are the zoomed span’s', () => {
		let view = $state<readonly [number, number] | null>(null);
		const el = render(Chart, {
			points: buckets,
			domain,
			resolution: 300,
			unit: 'ppm',
			get view() {
				return view;
			},
			set view(v) {
				view = v;
			}
		});
		const svg = el.querySelector('svg[role="slider"]') as SVGSVGElement;
		const key = (key: string, shiftKey = false) => {
			svg.dispatchEvent(new KeyboardEvent('keydown', { key, shiftKey, bubbles: true }));
			flushSync();
		};
		key('+');
		expect(view).not.toBeNull();
		expect(view![1] - view![0]).toBeCloseTo((domain[1] - domain[0]) / 2);
		expect(Number(svg.dataset.to) - Number(svg.dataset.from)).toBeCloseTo((domain[1] - domain[0]) / 2);
		expect(el.querySelector('[data-testid="chart-stats"]')!.textContent).toContain('zoomed span');
		const before = view![0];
		key('ArrowLeft', true);
		expect(view![0]).toBeLessThan(before);
		key('-');
		expect(view).toBeNull();
		expect(el.querySelector('[data-testid="chart-stats"]')!.textContent).toContain('whole range');
	});

	test('no points: no history yet, in words, no empty axes', () => {
		const el = render(Chart, { points: [], domain, emptyText: 'no readings in the last 7 days.' });
		expect(el.querySelector('[data-testid="chart-empty"]')!.textContent!.trim()).toBe(
			'No history yet: no readings in the last 7 days.'
		);
		expect(el.querySelector('svg')).toBeNull();
	});
});

describe('HistoryDialog', () => {
	const id = 'system:cpu_temp';
	const raw = Array.from({ length: 100 }, (_, i) => [now - 86400 + i * 864, 50 + (i % 40)]);
	const open = () => {
		chart.open({ source: 'system', sensor: 'cpu_temp', label: 'CPU temperature', unit: 'C' });
		flushSync();
	};
	const dialog = () => target.querySelector('[data-testid="history-dialog"]')!;
	const button = (name: string) =>
		[...dialog().querySelectorAll('button')].find((b) => b.textContent!.trim() === name) as HTMLButtonElement;

	test('opens on 24 h; a range button asks for that range and the title and axis follow', async () => {
		const spy = vi.spyOn(api, 'historyBatch').mockImplementation(async (_ids, range = '24h') =>
			range === '24h' ? batch('24h', 0, { [id]: series('system', 'cpu_temp', raw) }) : batch(range, 300, {
				[id]: series('system', 'cpu_temp', Array.from({ length: 2016 }, (_, i) => [now - 7 * 86400 + i * 300, 40, 55, 85]))
			})
		);
		render(HistoryDialog, {});
		open();
		await vi.waitFor(() => expect(dialog().querySelector('svg[role="slider"]')).not.toBeNull());
		expect(spy).toHaveBeenLastCalledWith([id], '24h');
		expect(dialog().querySelector('h2')!.textContent).toContain('last 24 h');
		expect(button('24 h').getAttribute('aria-pressed')).toBe('true');
		// CPU temperature: the warm and hot bands.
		expect([...dialog().querySelectorAll('[data-band]')].map((b) => b.getAttribute('data-band'))).toEqual(['warm', 'hot']);
		expect(dialog().querySelector('text.xtick')!.textContent).toMatch(/^\d\d:\d\d$/);

		button('7 d').click();
		flushSync();
		expect(spy).toHaveBeenLastCalledWith([id], '7d');
		await vi.waitFor(() => expect(dialog().querySelector('h2')!.textContent).toContain('last 7 days'));
		expect(button('7 d').getAttribute('aria-pressed')).toBe('true');
		expect(dialog().querySelector('path.range')).not.toBeNull();
		expect(dialog().querySelector('text.xtick')!.textContent).toMatch(/^\d{1,2} [A-Z][a-z]{2}$/);
	});

	test('a bus that is down is said and what was shown stays; an API error is said in words', async () => {
		let fail: Error | null = null;
		vi.spyOn(api, 'historyBatch').mockImplementation(async (_ids, range = '24h') => {
			if (fail) throw fail;
			return batch(range, 0, { [id]: series('system', 'cpu_temp', raw) });
		});
		render(HistoryDialog, {});
		open();
		await vi.waitFor(() => expect(dialog().querySelector('svg[role="slider"]')).not.toBeNull());

		fail = new ApiError(503, 'the data bus is unavailable');
		button('1 h').click();
		flushSync();
		await vi.waitFor(() => expect(dialog().querySelector('[data-testid="history-bus-down"]')).not.toBeNull());
		expect(dialog().querySelector('[data-testid="history-bus-down"]')!.textContent).toMatch(
			/data bus is down.*Showing what was loaded before/
		);
		expect(dialog().querySelector('svg[role="slider"]')).not.toBeNull();
		expect(dialog().querySelector('h2')!.textContent).toContain('last 24 h');

		fail = new ApiError(400, 'at most 16 series per request');
		button('30 d').click();
		flushSync();
		await vi.waitFor(() =>
			expect(dialog().querySelector('[data-testid="history-error"]')!.textContent).toContain(
				'Could not load the history: at most 16 series per request'
			)
		);
		fail = null;
		button('Try again').click();
		flushSync();
		await vi.waitFor(() => expect(dialog().querySelector('h2')!.textContent).toContain('last 30 days'));
		expect(dialog().querySelector('[data-testid="history-error"]')).toBeNull();
	});

	test('no history yet', async () => {
		vi.spyOn(api, 'historyBatch').mockResolvedValue(batch('24h', 0, { [id]: series('system', 'cpu_temp', []) }));
		render(HistoryDialog, {});
		open();
		await vi.waitFor(() => expect(dialog().querySelector('[data-testid="chart-empty"]')).not.toBeNull());
		expect(dialog().querySelector('[data-testid="chart-empty"]')!.textContent).toContain('No history yet');
		expect(button('Download CSV').disabled).toBe(true);
	});
});
