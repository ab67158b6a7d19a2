import { flushSync } from 'svelte';
import { describe, expect, test, vi } from 'vitest';
import { ApiError } from '$lib/api/client';
import type { Sources } from '$lib/api/types';
import { Repeater, type RepeatTimers } from '$lib/util/repeat';
import { ConfigStore } from './config.svelte';
import { asWired, GridStore } from './grid.svelte';
import type { HistoryBatch, RawPoint } from '$lib/api/history';
import { HistoryStore, RETRY_S } from './history.svelte';
import { LogsStore, groupLogs } from './logs.svelte';
import { PrefsStore } from './prefs.svelte';
import { SessionStore } from './session.svelte';
import { SILENCE_MS, SOURCES_PATH, SourcesStore } from './sources.svelte';
import { DELTA_KEEPALIVE_S } from '$lib/api/generated/constants';
import { FakeSocket, FakeTimers } from '$lib/ws.fakes';
import { streamStatus, streamUptime } from './camera.svelte';

/** A 24 h batch answer with `points` for each of `ids`. */
const batchOf = (ids: readonly string[], points: RawPoint[]): HistoryBatch => ({
	range: '24h',
	resolution: 0,
	from: 0,
	to: 86400,
	series: Object.fromEntries(
		ids.map((id) => {
			const i = id.indexOf(':');
			return [id, { source: id.slice(0, i), sensor: id.slice(i + 1), unit: '%', points, min: 1, mean: 1, max: 1 }];
		})
	)
});

const view = (sensor: string, value: number, timestamp = 1) => ({
	readings: { [sensor]: { value, unit: '%', timestamp } },
	status: {
		source_id: 'x',
		last_poll: timestamp,
		last_success: timestamp,
		last_error: null,
		poll_count: 1,
		error_count: 0
	}
});

const delta = (
	sources: Record<string, unknown>,
	extra: { full?: boolean; bus?: unknown; removed?: string[]; type?: string } = {}
) =>
	JSON.stringify({
		type: extra.type ?? 'sources',
		full: extra.full ?? false,
		bus: 'bus' in extra ? extra.bus : { state: 'up', since: 100 },
		sources,
		removed: extra.removed ?? []
	});
const full = (sources: Record<string, unknown>, bus?: unknown) =>
	delta(sources, bus === undefined ? { full: true } : { full: true, bus });
const keepalive = (bus: unknown = { state: 'up', since: 100 }) => delta({}, { bus });

function live() {
	const sockets: FakeSocket[] = [];
	const timers = new FakeTimers();
	const s = new SourcesStore(() => 'ws://pi' + SOURCES_PATH, {
		timers,
		create: (url) => {
			const socket = new FakeSocket(url);
			sockets.push(socket);
			return socket;
		}
	});
	return { s, sockets, timers, last: () => sockets[sockets.length - 1]! };
}

describe('SourcesStore', () => {
	test('a full message replaces everything, a delta replaces the sources it lists and deletes the removed', () => {
		const s = new SourcesStore(() => 'ws://x');
		s.receive(full({ system: view('cpu', 1), pihole: view('q', 5), weather: view('t', 3) }));
		s.receive(delta({ system: view('load', 2, 2) }, { removed: ['weather'] }));
		// Replaced whole: the old `cpu` reading is not merged into the new view.
		expect(Object.keys(s.sources.system!.readings)).toEqual(['load']);
		expect(s.sources.pihole!.readings.q!.value).toBe(5);
		expect(Object.keys(s.sources).sort()).toEqual(['pihole', 'system']);
		// A new connection's full message drops what it does not list.
		s.receive(full({ system: view('cpu', 3, 3) }));
		expect(Object.keys(s.sources)).toEqual(['system']);
		expect(s.messages).toBe(3);
	});

	test('a delta re-runs only what reads the sources it lists', () => {
		const s = new SourcesStore(() => 'ws://x');
		s.receive(full({ system: view('cpu', 1), pihole: view('q', 5) }));
		let runs = 0;
		const stop = $effect.root(() => {
			$effect(() => {
				void s.sources.pihole;
				runs++;
			});
		});
		flushSync();
		expect(runs).toBe(1);
		s.receive(delta({ system: view('cpu', 2, 2) }));
		s.receive(keepalive());
		flushSync();
		expect(runs).toBe(1);
		s.receive(delta({ pihole: view('q', 6, 2) }));
		flushSync();
		expect(runs).toBe(2);
		stop();
	});

	test('the bus state comes with every message; frozenSince while it is down', () => {
		const s = new SourcesStore(() => 'ws://x');
		expect(s.bus).toBeNull();
		expect(s.frozenSince).toBeNull();
		s.receive(full({ system: view('cpu', 1) }, { state: 'up', since: 10 }));
		expect(s.bus).toEqual({ state: 'up', since: 10 });
		expect(s.frozenSince).toBeNull();
		s.receive(keepalive({ state: 'down', since: 50, error: 'Connection refused' }));
		expect(s.bus).toEqual({ state: 'down', since: 50, error: 'Connection refused' });
		expect(s.frozenSince).toBe(50);
		// The frozen values stay.
		expect(s.sources.system!.readings.cpu!.value).toBe(1);
		s.receive(keepalive({ state: 'up', since: 80 }));
		expect(s.frozenSince).toBeNull();
		// A message without a readable bus leaves the last one.
		s.receive(delta({}, { bus: { state: 'sideways', since: 1 } }));
		expect(s.bus).toEqual({ state: 'up', since: 80 });
	});

	test('a keep-alive changes no data and wakes no listener, but counts as a message', () => {
		const s = new SourcesStore(() => 'ws://x');
		const seen: unknown[] = [];
		s.subscribe((changed, removed) => seen.push([changed, removed]));
		s.receive(full({ system: view('cpu', 1), pihole: view('q', 5) }));
		const before = JSON.stringify(s.sources);
		s.receive(keepalive());
		s.receive(keepalive());
		expect(JSON.stringify(s.sources)).toBe(before);
		expect(seen).toHaveLength(1);
		expect(s.messages).toBe(3);
		expect(s.lastMessage).not.toBeNull();
	});

	test('listeners get what changed: the listed sources and the ids that went away', () => {
		const s = new SourcesStore(() => 'ws://x');
		const seen: Array<[string[], readonly string[]]> = [];
		const stop = s.subscribe((changed, removed) => seen.push([Object.keys(changed), removed]));
		s.receive(full({ system: view('cpu', 1), pihole: view('q', 5) }));
		s.receive(delta({ pihole: view('q', 6, 2) }));
		// Removing an id we never had is no change.
		s.receive(delta({}, { removed: ['system', 'nope'] }));
		s.receive(delta({}, { removed: ['nope'] }));
		s.receive(full({ weather: view('t', 1) }));
		stop();
		s.receive(delta({ system: view('cpu', 2, 3) }));
		expect(seen).toEqual([
			[['system', 'pihole'], []],
			[['pihole'], []],
			[[], ['system']],
			[['weather'], ['pihole']]
		]);
	});

	test('the history store sees live values, not keep-alives', async () => {
		const historyBatch = vi.fn(async (ids: readonly string[]) => batchOf(ids, [[100, 1]]));
		const h = new HistoryStore({ historyBatch });
		const s = new SourcesStore(() => 'ws://x');
		s.subscribe((changed) => h.ingest(changed));
		h.points('system', 'cpu');
		await vi.waitFor(() => expect(h.points('system', 'cpu')).toBeDefined());
		s.receive(full({ system: view('cpu', 7, 200) }));
		s.receive(keepalive());
		s.receive(delta({ system: view('cpu', 8, 300) }));
		expect(h.points('system', 'cpu')).toEqual([
			[100, 1],
			[200, 7],
			[300, 8]
		]);
	});

	test('garbage, other message types and the contract’s shape are ignored', () => {
		const s = new SourcesStore(() => 'ws://x');
		const seen: unknown[] = [];
		s.subscribe((c) => seen.push(c));
		s.receive(full({ system: view('cpu', 1) }));
		s.receive('not json');
		s.receive('null');
		s.receive('[]');
		s.receive(delta({ system: view('cpu', 9) }, { type: 'something_new' }));
		s.receive(JSON.stringify({ type: 'hello', version: 2 }));
		// A default `/ws/sources` message ({id: view}) is not ours: no `type`.
		s.receive(JSON.stringify({ pihole: view('q', 1) }));
		s.receive(JSON.stringify({ type: 'sources', full: true, sources: null }));
		expect(Object.keys(s.sources)).toEqual(['system']);
		expect(s.sources.system!.readings.cpu!.value).toBe(1);
		expect(s.messages).toBe(1);
		expect(seen).toHaveLength(1);
		// A view that is not one is skipped, the rest applies.
		s.receive(delta({ weather: 'oops', pihole: view('q', 2) }));
		expect(Object.keys(s.sources).sort()).toEqual(['pihole', 'system']);
	});

	test('a REST seed counts only before the first message; its per-source bus becomes `bus`', () => {
		const s = new SourcesStore(() => 'ws://x');
		const down = { state: 'down' as const, since: 1700000000, error: 'Connection refused' };
		s.seed({ system: { ...view('cpu', 1), bus: down }, pihole: { ...view('q', 1), bus: down } });
		expect(Object.keys(s.sources).sort()).toEqual(['pihole', 'system']);
		expect(s.sources.system!.bus).toBeUndefined();
		expect(s.bus).toEqual(down);
		expect(s.frozenSince).toBe(1700000000);
		s.receive(full({ pihole: view('q', 2) }, { state: 'up', since: 1700000100 }));
		s.seed({ system: view('cpu', 9) });
		expect(Object.keys(s.sources)).toEqual(['pihole']);
		expect(s.frozenSince).toBeNull();
		// A seed with no bus field (an older gateway) leaves `bus` unknown.
		const t = new SourcesStore(() => 'ws://x');
		t.seed({ system: view('cpu', 1) });
		expect(t.bus).toBeNull();
		expect(Object.keys(t.sources)).toEqual(['system']);
	});

	test('it asks for the delta feed; 4 s without a message closes the socket, freezes the data and reconnects', () => {
		const { s, sockets, timers, last } = live();
		s.connect();
		expect(last().url).toBe('ws://pi/ws/sources?mode=delta');
		last().open();
		last().message(full({ system: view('cpu', 1) }));
		// Keep-alives every 2 s: nothing happens.
		for (let i = 0; i < 6; i++) {
			timers.advance(DELTA_KEEPALIVE_S * 1000);
			last().message(keepalive());
		}
		expect(sockets).toHaveLength(1);
		expect(s.state).toBe('open');
		expect(s.frozen).toBeNull();
		const lastMessage = s.lastMessage;
		expect(SILENCE_MS).toBeLessThanOrEqual(5000);
		timers.advance(SILENCE_MS - 1);
		expect(s.state).toBe('open');
		timers.advance(1);
		expect(sockets[0]!.closed).toBe(true);
		expect(s.state).toBe('closed');
		expect(s.retryInMs).toBe(1000);
		// The values stay while reconnecting, frozen as of the last message; the next
		// connection's full message replaces them.
		expect(s.frozen).toEqual({ cause: 'gateway', since: lastMessage });
		expect(s.sources.system!.readings.cpu!.value).toBe(1);
		timers.advance(1000);
		expect(sockets).toHaveLength(2);
		expect(s.frozen?.cause).toBe('gateway');
		last().open();
		expect(s.frozen?.cause).toBe('gateway');
		last().message(full({ pihole: view('q', 1) }));
		expect(s.frozen).toBeNull();
		expect(Object.keys(s.sources)).toEqual(['pihole']);
		expect(s.state).toBe('open');
		s.disconnect();
		expect(timers.pending).toHaveLength(0);
	});

	test('after many random deltas the store equals a model that applies them (no source lost)', () => {
		// A small seeded generator, so a failure replays.
		let seed = 42;
		const rand = (n: number) => {
			seed = (seed * 48271) % 2147483647;
			return seed % n;
		};
		const ids = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
		const s = new SourcesStore(() => 'ws://x');
		let model: Record<string, number> = {};
		const changedSeen: Record<string, number> = {};
		s.subscribe((changed, removed) => {
			for (const [id, v] of Object.entries(changed)) changedSeen[id] = v.readings.v!.value as number;
			for (const id of removed) delete changedSeen[id];
		});
		for (let step = 1; step <= 2000; step++) {
			const kind = rand(20);
			if (kind === 0) {
				// A new connection: a full message of some of the ids.
				model = {};
				for (const id of ids) if (rand(2)) model[id] = step;
				s.receive(full(Object.fromEntries(Object.entries(model).map(([id, v]) => [id, view('v', v, step)]))));
			} else if (kind < 4) {
				s.receive(keepalive());
			} else {
				const changed: Record<string, unknown> = {};
				const removed: string[] = [];
				for (const id of ids) {
					const r = rand(8);
					if (r === 0 && id in model) {
						removed.push(id);
						delete model[id];
					} else if (r === 1) {
						// The gateway may name an id that we do not have as removed: harmless.
						if (!(id in model)) removed.push(id);
					} else if (r === 2) {
						model[id] = step;
						changed[id] = view('v', step, step);
					}
				}
				s.receive(delta(changed, { removed }));
			}
			const got = Object.fromEntries(
				Object.entries(s.sources).map(([id, v]) => [id, v.readings.v!.value])
			);
			expect(got, `step ${step}`).toEqual(model);
			expect(changedSeen, `listeners at step ${step}`).toEqual(model);
		}
	});
});

describe('HistoryStore', () => {
	test('asks for all the readings on screen in one request per 16, once, and appends live values', async () => {
		const historyBatch = vi.fn(async (ids: readonly string[], _range?: string) => batchOf(ids, [[100, 1]]));
		const h = new HistoryStore({ historyBatch });
		for (let i = 0; i < 20; i++) h.points('system', `s${i}`);
		h.points('system', 's0');
		h.points('co2', 'office:co2');
		await vi.waitFor(() => expect(h.points('co2', 'office:co2')).toBeDefined());
		expect(historyBatch).toHaveBeenCalledTimes(2);
		const [first, second] = historyBatch.mock.calls.map((c) => c[0]);
		expect(first).toHaveLength(16);
		expect([...first!, ...second!]).toEqual([...Array.from({ length: 20 }, (_, i) => `system:s${i}`), 'co2:office:co2']);
		expect(historyBatch.mock.calls.every((c) => c[1] === '24h')).toBe(true);
		h.ingest({ system: view('s0', 7, 200) });
		h.ingest({ system: view('s0', 8, 150) }); // older than the last point: ignored
		expect(h.points('system', 's0')).toEqual([
			[100, 1],
			[200, 7]
		]);
		expect(historyBatch).toHaveBeenCalledTimes(2);
	});

	test('a series without history is empty, not asked again', async () => {
		const historyBatch = vi.fn(async () => batchOf([], []));
		const h = new HistoryStore({ historyBatch });
		h.points('co2', 'office:co2');
		await vi.waitFor(() => expect(h.points('co2', 'office:co2')).toEqual([]));
		expect(historyBatch).toHaveBeenCalledOnce();
	});

	test('a bus that is down is said, what was shown stays, and the series are asked again later', async () => {
		let now = 1000;
		let down = true;
		const historyBatch = vi.fn(async (ids: readonly string[]) => {
			if (down) throw new ApiError(503, 'bus unavailable');
			return batchOf(ids, [[100, 1]]);
		});
		const h = new HistoryStore({ historyBatch }, () => now);
		h.points('system', 'cpu');
		await vi.waitFor(() => expect(h.problem).toBe('the data bus is down'));
		h.ingest({ system: view('cpu', 5, 900) });
		expect(h.points('system', 'cpu')).toEqual([[900, 5]]);
		expect(historyBatch).toHaveBeenCalledOnce();
		now += RETRY_S;
		down = false;
		h.points('system', 'cpu');
		await vi.waitFor(() => expect(h.problem).toBeNull());
		expect(h.points('system', 'cpu')).toEqual([
			[100, 1],
			[900, 5]
		]);
		expect(historyBatch).toHaveBeenCalledTimes(2);
	});
});

describe('LogsStore', () => {
	test('a reconnect replays the kept entries without duplicating them', async () => {
		const l = new LogsStore((level) => `ws://x?level=${level}`);
		const entry = (m: string) => JSON.stringify({ level: 'warn', service: 's', message: m, timestamp: 1 });
		l.receive(entry('a'), true);
		l.receive(entry('b'), false);
		l.flush();
		l.receive(entry('a'), true);
		l.receive(entry('b'), false);
		l.receive(entry('c'), false);
		l.flush();
		expect(l.entries.map((e) => e.message)).toEqual(['a', 'b', 'c']);
	});

	test('identical lines are grouped with their count, where the latest of them stands', () => {
		const e = (message: string, timestamp: number, level = 'warn', service = 'orchestrator') => ({
			level,
			service,
			message,
			timestamp
		});
		const groups = groupLogs([
			e('run failed co2', 60),
			e('cannot write', 70, 'warn', 'gateway'),
			e('run failed co2', 120),
			e('run failed co2', 120, 'error'),
			e('run failed co2', 180),
			e('run failed co2', 180, 'warn', 'co2')
		]);
		expect(groups.map((g) => [g.entry.service, g.entry.level, g.entry.message, g.count, g.first, g.entry.timestamp])).toEqual([
			['gateway', 'warn', 'cannot write', 1, 70, 70],
			['orchestrator', 'error', 'run failed co2', 1, 120, 120],
			['orchestrator', 'warn', 'run failed co2', 3, 60, 180],
			['co2', 'warn', 'run failed co2', 1, 180, 180]
		]);
	});
});

describe('GridStore and rotation', () => {
	test('frames are kept; non-frames ignored', () => {
		const g = new GridStore(() => 'ws://x');
		g.receive('{"nope": 1}');
		expect(g.matrix).toBeNull();
		const pixels = Array.from({ length: 64 }, () => [0, 0, 0]);
		g.receive(JSON.stringify({ pixels, mode: 'idle', rotation: 90, available: true }));
		expect(g.matrix?.rotation).toBe(90);
	});

	test('the wired view turns the picture as the Rust Frame::for_rotation does', () => {
		const pixels = Array.from({ length: 64 }, () => [0, 0, 0] as [number, number, number]);
		pixels[0] = [255, 0, 0]; // top-left of the picture
		const at = (p: Array<[number, number, number]>) => p.findIndex((c) => c[0] === 255);
		expect(at(asWired(pixels, 0))).toBe(0);
		// 90°: (x, y) → (y, 7 − x): top-left goes to the bottom-left LED.
		expect(at(asWired(pixels, 90))).toBe(7 * 8 + 0);
		expect(at(asWired(pixels, 180))).toBe(63);
		// 270°: (x, y) → (7 − y, x): top-left goes to the top-right LED.
		expect(at(asWired(pixels, 270))).toBe(7);
	});
});

describe('ConfigStore', () => {
	test('a refusal is kept next to the field it names, in words, until the value or a save changes', async () => {
		const saveConfig = vi
			.fn()
			.mockRejectedValueOnce(
				new ApiError(400, 'display.scroll_speed: must be between 0.01 and 1 s (got 5)', 'display.scroll_speed')
			)
			.mockResolvedValueOnce({ status: 'ok', sections_updated: ['display'] });
		const c = new ConfigStore({ config: vi.fn(async () => ({}) as never), saveConfig });
		const refused = await c.save('display', { scroll_speed: 5 });
		const said = '“Scroll speed” must be between 0.01 and 1 s (got 5)';
		expect(refused).toEqual({ ok: false, field: 'display.scroll_speed', error: said });
		expect(c.sectionErrors('display')).toEqual({ scroll_speed: said });
		expect(c.sectionErrors('display', { scroll_speed: 5, low_light: true })).toEqual({ scroll_speed: said });
		// Fixed in the form (or put back as stored): the message goes, before any save.
		expect(c.sectionErrors('display', { scroll_speed: 0.5 })).toEqual({});
		expect(c.sectionErrors('display', {})).toEqual({});
		expect(c.sectionErrors('sleep')).toEqual({});
		expect((await c.save('display', { scroll_speed: 0.2 })).ok).toBe(true);
		expect(c.sectionErrors('display')).toEqual({});
	});

	test('a refused list entry is not said once it is removed; a field not sent, until anything changes', async () => {
		const cameras = [{ host: 'ok' }, { host: 'bad host' }];
		const saveConfig = vi
			.fn()
			.mockRejectedValueOnce(new ApiError(400, 'camera.cameras[1].host: must be a host name or IP address', 'camera.cameras[1].host'))
			.mockRejectedValueOnce(new ApiError(400, 'auth.password_hash: must be a bcrypt hash', 'auth.password_hash'));
		const c = new ConfigStore({ config: vi.fn(), saveConfig });
		await c.save('camera', { cameras } as never);
		expect(c.sectionErrors('camera', { cameras })).toEqual({
			'cameras[1].host': '“Host” of camera 2 must be a host name or IP address'
		});
		expect(c.sectionErrors('camera', { cameras: [cameras[0]] })).toEqual({});
		await c.save('auth', { username: 'a' });
		expect(Object.keys(c.sectionErrors('auth', { username: 'a' }))).toEqual(['password_hash']);
		expect(c.sectionErrors('auth', { username: 'b' })).toEqual({});
	});

	test('a save sends the revision the form was loaded at; a stale one says to reload', async () => {
		const saveConfig = vi
			.fn()
			.mockRejectedValueOnce(
				new ApiError(409, 'config:sleep was changed elsewhere since it was loaded: reload it and try again', 'sleep')
			);
		const c = new ConfigStore({ config: vi.fn(), saveConfig });
		c.config = { _revisions: { sleep: 'abc123' } } as never;
		const stale = await c.save('sleep', { start_hour: 21 });
		expect(saveConfig).toHaveBeenCalledWith({ sleep: { start_hour: 21 }, _revisions: { sleep: 'abc123' } });
		expect(stale).toMatchObject({ ok: false, field: 'sleep' });
		expect(c.sectionErrors('sleep')['']).toMatch(/reload/);
		// Whatever the form holds now: it is out of date.
		expect(c.sectionErrors('sleep', { start_hour: 22 })['']).toMatch(/reload/);
	});

	test('a room’s own values are saved by their name, with their revision; a refusal names the field by its label', async () => {
		const saveConfig = vi
			.fn()
			.mockResolvedValueOnce({ status: 'ok', sections_updated: ['display@kitchen'], revisions: { 'display@kitchen': 'r2' } })
			.mockRejectedValueOnce(new ApiError(400, 'sleep.start_hour: must be between 0 and 23 (got 24)', 'sleep.start_hour'))
			.mockRejectedValueOnce(new ApiError(409, 'config:display was changed elsewhere since it was loaded: reload it and try again', 'display'));
		const c: ConfigStore = new ConfigStore({ config: vi.fn(async () => c.config as never), saveConfig });
		c.config = { _revisions: { display: 'shared' }, _overrides: { 'display@kitchen': { fields: { rotation: 180 }, revision: 'r1' } } } as never;
		expect((await c.save('display@kitchen', { rotation: null })).ok).toBe(true);
		expect(saveConfig).toHaveBeenLastCalledWith({ 'display@kitchen': { rotation: null }, _revisions: { 'display@kitchen': 'r1' } });
		// No override stored yet: the revision of nothing stored.
		const refused = await c.save('sleep@kitchen', { start_hour: 24 });
		expect(saveConfig).toHaveBeenLastCalledWith({ 'sleep@kitchen': { start_hour: 24 }, _revisions: { 'sleep@kitchen': 'none' } });
		expect(refused).toMatchObject({ ok: false, error: '“Dark from” must be between 0 and 23 (got 24)' });
		expect(c.sectionErrors('sleep@kitchen', { start_hour: 24 })).toEqual({ start_hour: '“Dark from” must be between 0 and 23 (got 24)' });
		expect(c.sectionErrors('sleep')).toEqual({});
		const stale = await c.save('display@kitchen', { rotation: 90 });
		expect(stale.ok).toBe(false);
		expect(c.sectionErrors('display@kitchen', { rotation: 270 })['']).toMatch(/reload/);
	});

	test('stored values not in use are found by field; a save answers the warnings left', async () => {
		const saveConfig = vi.fn().mockResolvedValueOnce({
			status: 'ok',
			sections_updated: ['display'],
			revisions: { display: 'r2' },
			warnings: ['display.rotation: must be one of 0, 90, 180, 270 (got 45)']
		});
		const c: ConfigStore = new ConfigStore({ config: vi.fn(async () => c.config as never), saveConfig });
		c.config = {
			_problems: [
				'DISPLAY_ROTATION="x" is not a whole number; ignored',
				'config:display.rotation: must be one of 0, 90, 180, 270 (got 45); using 0',
				'config:camera.cameras[1].host: must be a host name or IP address; using []',
				'config:sleep is not valid JSON (expected value at line 1 column 1); using environment and defaults'
			]
		} as never;
		expect(c.storedProblems('display')).toEqual({
			rotation: { path: 'rotation', message: 'must be one of 0, 90, 180, 270 (got 45); using 0' }
		});
		expect(c.storedProblems('camera')).toEqual({
			cameras: { path: 'cameras[1].host', message: 'must be a host name or IP address; using []' }
		});
		expect(c.storedProblems('sleep')['']?.message).toMatch(/^is not valid JSON/);
		expect(c.storedProblems('global')).toEqual({});
		expect(await c.save('display', { low_light: true })).toEqual({
			ok: true,
			warnings: ['display.rotation: must be one of 0, 90, 180, 270 (got 45)']
		});
	});

	test('intervals come from the schedule, with the contract defaults before it loads', async () => {
		const c = new ConfigStore({ config: vi.fn(), saveConfig: vi.fn() });
		expect(c.interval('weather')).toBe(300);
		expect(c.interval('co2')).toBe(60);
		expect(c.interval('network_camera')).toBeNull();
		c.config = { schedule: { aranet4: 120, weather: 600 } } as never;
		expect(c.interval('co2')).toBe(120);
	});
});

describe('SessionStore', () => {
	test('auth off is open; on without a user asks; a good login signs in', async () => {
		const client = {
			session: vi.fn().mockResolvedValueOnce({ auth_enabled: false, user: null }).mockResolvedValueOnce({ auth_enabled: true, user: null }),
			login: vi
				.fn()
				.mockRejectedValueOnce(new ApiError(401, 'wrong username or password'))
				.mockResolvedValueOnce({ auth_enabled: true, user: 'admin' }),
			logout: vi.fn().mockResolvedValue({ auth_enabled: true, user: null })
		};
		const s = new SessionStore(() => client);
		await s.check();
		expect(s.state).toBe('open');
		expect(s.ready).toBe(true);
		await s.check();
		expect(s.state).toBe('signed-out');
		expect(await s.login('admin', 'nope')).toBe(false);
		expect(s.error).toBe('Wrong username or password.');
		expect(await s.login('admin', 'correct horse')).toBe(true);
		expect(s.state).toBe('signed-in');
		await s.logout();
		expect(s.state).toBe('signed-out');
		s.expired();
		expect(s.ready).toBe(false);
	});

	test('sign-in settings that are invalid keep asking for a login and say why', async () => {
		const problem = 'config:auth is not valid JSON; nobody can sign in until it is fixed';
		const client = {
			session: vi.fn().mockResolvedValue({ auth_enabled: true, user: null, problem }),
			login: vi.fn(),
			logout: vi.fn()
		};
		const s = new SessionStore(() => client);
		await s.check();
		expect(s.state).toBe('signed-out');
		expect(s.ready).toBe(false);
		expect(s.problem).toBe(problem);
	});
});

describe('PrefsStore', () => {
	test('°C/°F and theme persist in the browser', () => {
		const data = new Map<string, string>();
		const storage = { getItem: (k: string) => data.get(k) ?? null, setItem: (k: string, v: string) => void data.set(k, v) };
		const p = new PrefsStore(storage);
		expect(p.tempUnit).toBe('C');
		p.setTempUnit('F');
		p.setTheme('light');
		expect(document.documentElement.dataset.theme).toBe('light');
		const again = new PrefsStore(storage);
		expect(again.tempUnit).toBe('F');
		expect(again.theme).toBe('light');
		again.setTheme('system');
		expect(document.documentElement.dataset.theme).toBeUndefined();
	});
});

describe('camera and PTZ', () => {
	test('no status means stopped', () => {
		expect(streamStatus(undefined)).toBe('stopped');
		expect(streamStatus({ readings: { stream_status: { value: 'streaming' } }, status: null })).toBe('stopped');
		expect(streamStatus({ readings: { stream_status: { value: 'streaming' } }, status: {} })).toBe('streaming');
	});

	test('the uptime runs on from its reading while the stream goes on, and stands still otherwise', () => {
		// Written as 0 s when the stream started at 1000; 2.5 s later it has streamed 2.5 s.
		expect(streamUptime({ value: 0, timestamp: 1000 }, 1002.5, true)).toBe(2.5);
		expect(streamUptime({ value: 30, timestamp: 1000 }, 1090, true)).toBe(120);
		// Stopped, or frozen: the reading as written.
		expect(streamUptime({ value: 30, timestamp: 1000 }, 1090, false)).toBe(30);
		// A clock a little behind the camera's never makes it run backwards.
		expect(streamUptime({ value: 30, timestamp: 1000 }, 999, true)).toBe(30);
		expect(streamUptime(undefined, 1000, true)).toBeNull();
		expect(streamUptime({ value: 'x', timestamp: 1000 }, 1000, true)).toBeNull();
	});

	test('hold-to-repeat runs at once, then after each run ends, until released', async () => {
		const timers: Array<() => void> = [];
		const fake: RepeatTimers = { set: (fn) => timers.push(fn), clear: () => timers.splice(0) };
		const r = new Repeater(500, fake);
		let calls = 0;
		r.start(async () => void calls++);
		await Promise.resolve();
		await Promise.resolve();
		expect(calls).toBe(1);
		expect(timers).toHaveLength(1);
		timers.shift()!();
		await Promise.resolve();
		await Promise.resolve();
		expect(calls).toBe(2);
		r.stop();
		expect(timers).toHaveLength(0);
		expect(r.active).toBe(false);
	});
});
