import { afterEach, describe, expect, test, vi } from 'vitest';
import { ApiError } from '$lib/api/client';
import type { Alerts } from '$lib/api/types';
import { alertsFixture } from '$lib/api/alerts.fixture';
import { alertCondition, alertLasted, alertSince, alertValue, activeCount } from '$lib/util/alerts';
import { clock as clockTime } from '$lib/util/format';
import { ALERTS_POLL_MS, AlertsStore } from './alerts.svelte';
import { SourcesStore } from './sources.svelte';

const now = Math.floor(Date.now() / 1000);
type Answer = { body: Alerts; savedAt: number | null } | ApiError | Error;

/** A store whose client answers from `answers` in turn (the last one again when they run out). */
function store(...answers: Answer[]) {
	const alerts = vi.fn(async () => {
		const a = answers.length > 1 ? answers.shift()! : answers[0]!;
		if (a instanceof Error) throw a;
		return a;
	});
	return { s: new AlertsStore(() => ({ alerts })), alerts };
}
const ok = (body = alertsFixture(now), savedAt: number | null = null) => ({ body, savedAt });

afterEach(() => vi.useRealTimers());

describe('alerts in words', () => {
	const [fired] = alertsFixture(now).active;
	test('value, threshold and since when, with the format helpers', () => {
		expect(alertValue(fired!)).toBe('1,520 ppm');
		expect(alertCondition(fired!)).toBe('≥ 1,400 ppm');
		expect(alertSince(fired!, now)).toBe(`since ${clockTime(now - 600)} (10 min)`);
		const frost = alertsFixture(now).history[0]!;
		expect(alertValue(frost)).toBe('-1.5 °C');
		expect(alertValue(frost, 'F')).toBe('29.3 °F');
		expect(alertCondition(frost)).toBe('≤ 0 °C');
		expect(alertLasted(alertsFixture(now).history[2]!)).toBe('1 h');
		expect([activeCount(1), activeCount(2)]).toEqual(['1 active alert', '2 active alerts']);
	});
});

describe('AlertsStore', () => {
	test('keeps the answer: active newest first, history newest first', async () => {
		const { s } = store(ok());
		await s.refresh();
		expect(s.absent).toBe(false);
		expect(s.active.map((e) => e.id)).toEqual(['co2-high|co2|office:co2']);
		expect(s.history.map((e) => `${e.rule}:${e.kind}`)).toEqual(['co2-high:fired', 'cold:cleared', 'cold:fired']);
		expect(s.data!.channels.webhook!.state).toBe('failing');
		expect(s.savedAt).toBeNull();
	});

	test('404: the gateway has no alerts, nothing is shown', async () => {
		const { s } = store(ok(), new ApiError(404, 'no endpoint GET /api/alerts'));
		await s.refresh();
		await s.refresh();
		expect(s.absent).toBe(true);
		expect(s.data).toBeNull();
		expect(s.active).toEqual([]);
	});

	test('503 (the bus is down) or no answer: what was shown stays, with why', async () => {
		const { s } = store(ok(), new ApiError(503, 'the data bus is unreachable'), new ApiError(0, 'cannot reach the gateway'));
		await s.refresh();
		await s.refresh();
		expect(s.active).toHaveLength(1);
		expect(s.error).toBe('the data bus is unreachable');
		await s.refresh();
		expect(s.active).toHaveLength(1);
		expect(s.error).toBe('cannot reach the gateway');
	});

	test('the copy this device kept says when it was saved', async () => {
		const { s } = store(ok(alertsFixture(now), now - 120));
		await s.refresh();
		expect(s.savedAt).toBe(now - 120);
	});

	test('polls every 15 s while started, and stops', async () => {
		vi.useFakeTimers();
		const { s, alerts } = store(ok());
		s.start();
		expect(alerts).toHaveBeenCalledTimes(1);
		await vi.advanceTimersByTimeAsync(ALERTS_POLL_MS);
		expect(alerts).toHaveBeenCalledTimes(2);
		s.stop();
		await vi.advanceTimersByTimeAsync(ALERTS_POLL_MS * 3);
		expect(alerts).toHaveBeenCalledTimes(2);
		expect(ALERTS_POLL_MS).toBe(15_000);
	});

	test('a late answer to an older question does not overwrite a newer one; clear() forgets', async () => {
		let release!: (v: Answer) => void;
		const slow = new Promise<Answer>((r) => (release = r));
		const empty = { ...alertsFixture(now), active: [] };
		const alerts = vi
			.fn()
			.mockImplementationOnce(() => slow)
			.mockImplementationOnce(async () => ok(empty));
		const s = new AlertsStore(() => ({ alerts }));
		const first = s.refresh();
		await s.refresh();
		release(ok());
		await first;
		expect(s.active).toEqual([]);
		s.clear();
		expect(s.data).toBeNull();
	});

	test('the sources feed (re)connecting is when to ask again', () => {
		const sources = new SourcesStore(() => 'ws://x/ws/sources?mode=delta');
		const again = vi.fn();
		sources.onConnect(again);
		const msg = (full: boolean) => JSON.stringify({ type: 'sources', full, bus: { state: 'up', since: now }, sources: {}, removed: [] });
		sources.receive(msg(true));
		sources.receive(msg(false));
		sources.receive(msg(false));
		expect(again).toHaveBeenCalledTimes(1);
		sources.receive(msg(true));
		expect(again).toHaveBeenCalledTimes(2);
	});
});

describe('the offline copy of the sources', () => {
	test('seeded from the kept copy: frozen since it was saved once the feed fails, until a live message', () => {
		const sources = new SourcesStore(() => 'ws://x/ws/sources?mode=delta');
		sources.seed({ system: { readings: { cpu_percent: { value: 12, unit: '%', timestamp: now - 900 } }, status: null } }, now - 600);
		expect(sources.savedCopy).toBe(now - 600);
		sources.lost = true;
		expect(sources.frozen).toEqual({ cause: 'gateway', since: now - 600 });
		sources.receive(JSON.stringify({ type: 'sources', full: true, bus: { state: 'up', since: now }, sources: {}, removed: [] }));
		expect(sources.savedCopy).toBeNull();
		expect(sources.frozen).toBeNull();
	});
});
