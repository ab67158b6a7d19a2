import { describe, expect, test } from 'vitest';
import type { NodeView, Sources, Status } from '$lib/api/types';
import { clock } from './format';
import { countText, problems, sourceName } from './problems';
import {
	HUB_ROOM,
	lostNodes,
	lostText,
	nodeGroups,
	nodeOf,
	orchestratorState,
	piRows,
	roomOf,
	scopedId,
	splitScoped
} from './scope';

const now = 1_796_536_800;
const status = (extra: Partial<Status> = {}): Status => ({
	source_id: 'x',
	last_poll: now,
	last_success: now,
	last_error: null,
	poll_count: 9,
	error_count: 0,
	...extra
});
const view = (s: Status | null) => ({ readings: {}, status: s });
const node = (name: string, extra: Partial<NodeView> = {}): NodeView => ({
	name,
	room: roomOf(name),
	last_contact: now - 5,
	interval_s: 15,
	sources: [`sensors@${name}`, `system@${name}`, `orchestrator@${name}`],
	version: '0.1.0',
	contact: 'ok',
	since_s: 5,
	...extra
});
const lost = (name: string, since = now - 600) => node(name, { contact: 'lost', last_contact: since, since_s: now - since });

describe('scoped ids', () => {
	test('split at the @, joined back; the hub has no node', () => {
		expect(splitScoped('sensors@kitchen')).toEqual(['sensors', 'kitchen']);
		expect(splitScoped('sensors')).toEqual(['sensors', null]);
		expect(scopedId('co2', 'kitchen')).toBe('co2@kitchen');
		expect(scopedId('co2', null)).toBe('co2');
		expect(nodeOf('orchestrator@living-room')).toBe('living-room');
		expect(nodeOf('node-pico-e661')).toBeNull();
	});

	test('a room as NodeName::room says it, and the sources named with it', () => {
		expect(roomOf('living-room')).toBe('Living room');
		expect(roomOf('kitchen')).toBe('Kitchen');
		expect(sourceName('sensors@kitchen')).toBe('Sense HAT · Kitchen');
		expect(sourceName('orchestrator@living-room')).toBe('Orchestrator · Living room');
		expect(sourceName('sensors')).toBe('Sense HAT');
	});
});

describe('grouping by node', () => {
	test('no satellites: no groups (the overview is as on a single Pi)', () => {
		const sources: Sources = { sensors: view(status()), system: view(status()), orchestrator: view(status()) };
		expect(nodeGroups(sources, [])).toEqual([]);
	});

	test("a group per node, by name: its record's room, its sources, also a node without a record yet", () => {
		const sources: Sources = {
			sensors: view(status()),
			'sensors@kitchen': view(status()),
			'co2@kitchen': view(status()),
			'system@attic': view(status())
		};
		const groups = nodeGroups(sources, [node('kitchen', { room: 'The kitchen' }), node('hall')]);
		expect(groups.map((g) => [g.name, g.room, g.ids, g.node?.name ?? null])).toEqual([
			['attic', 'Attic', ['system@attic'], null],
			['hall', 'Hall', [], 'hall'],
			['kitchen', 'The kitchen', ['co2@kitchen', 'sensors@kitchen'], 'kitchen']
		]);
	});

	test('lost nodes by name', () => {
		expect([...lostNodes([node('kitchen'), lost('attic')]).keys()]).toEqual(['attic']);
	});
});

describe('a lost node is one problem', () => {
	const kitchenSources = (): Sources => ({
		system: view(status()),
		'sensors@kitchen': view(status({ last_error: 'HTS221: no answer', outcome: 'failed' })),
		'co2@kitchen': view(status({ last_error: 'garage not heard', outcome: 'partial', missing: [{ name: 'garage', error: 'x', since: now - 60, last_seen: null }] })),
		'system@kitchen': view(status({ last_error: 'boom' })),
		'tailscale@kitchen': view(null),
		'orchestrator@kitchen': view(status({ last_error: 'overdue: sensors, system' }))
	});

	test('"Kitchen: no contact since 14:02", and nothing of its sources', () => {
		const list = problems(kitchenSources(), { state: 'up', since: now - 3600 }, now, [lost('kitchen', now - 600)]);
		expect(list.map((p) => [p.level, p.text])).toEqual([['alert', `Kitchen: no contact since ${clock(now - 600)}`]]);
		expect(countText(list.length)).toBe('1 problem');
		expect(lostText(lost('kitchen', now - 600), now)).toBe(`Kitchen: no contact since ${clock(now - 600)}`);
	});

	test('in contact again: its sources speak for themselves, scoped and named with the room', () => {
		const list = problems(kitchenSources(), null, now, [node('kitchen')]);
		expect(list.map((p) => p.text)).toEqual([
			'Sense HAT · Kitchen: HTS221: no answer',
			'System · Kitchen: boom',
			`Aranet4 · Kitchen garage not heard since ${clock(now - 60)} (1 min ago); never heard before`
		]);
	});

	test("a satellite's orchestrator's overdue sources are its own, counted once", () => {
		const sources: Sources = {
			'sensors@kitchen': view(status()),
			'system@kitchen': view(status({ last_error: 'boom' })),
			'orchestrator@kitchen': view(status({ last_error: 'overdue: sensors, system' })),
			orchestrator: view(status({ last_error: 'overdue: weather' })),
			weather: view(status())
		};
		expect(problems(sources, null, now, [node('kitchen')]).map((p) => [p.key, p.text])).toEqual([
			['system@kitchen', 'System · Kitchen: boom'],
			['overdue:weather', 'Weather: no successful poll for 3 intervals'],
			['overdue:sensors@kitchen', 'Sense HAT · Kitchen: no successful poll for 3 intervals']
		]);
	});

	test('another node, and the hub, are unaffected by one lost', () => {
		const sources: Sources = {
			weather: view(status({ last_error: 'wttr.in answered 503' })),
			'system@kitchen': view(status({ last_error: 'boom' })),
			'system@attic': view(status({ last_error: 'disk gone' }))
		};
		expect(problems(sources, null, now, [lost('kitchen'), node('attic')]).map((p) => p.text)).toEqual([
			`Kitchen: no contact since ${clock(now - 600)}`,
			'Weather: wttr.in answered 503',
			'System · Attic: disk gone'
		]);
	});
});

describe("the Status page's Pis", () => {
	test('an orchestrator running, overdue, warning or gone', () => {
		expect(orchestratorState(status(), sourceName)).toEqual({ state: 'running', detail: null });
		expect(orchestratorState(status({ last_error: 'overdue: sensors@kitchen, co2' }), sourceName)).toEqual({
			state: 'overdue',
			detail: 'Sense HAT, Aranet4'
		});
		expect(orchestratorState(status({ last_error: 'docker: gone' }), sourceName)).toEqual({ state: 'warning', detail: 'docker: gone' });
		expect(orchestratorState(null, sourceName)).toEqual({ state: 'not running', detail: null });
	});

	test('the hub first, then each node with its orchestrator, its contact and version', () => {
		const sources: Sources = {
			orchestrator: view(status({ last_poll: now - 3 })),
			'orchestrator@kitchen': view(status({ last_error: 'overdue: co2' })),
			'sensors@hall': view(status())
		};
		const rows = piRows(sources, [lost('kitchen', now - 600), node('attic', { last_contact: now - 12 })], '0.2.0', now, sourceName);
		expect(rows.map((r) => [r.name, r.room, r.orchestrator.state, r.contact, r.contactText, r.version])).toEqual([
			[null, HUB_ROOM, 'running', 'hub', 'health just now', '0.2.0'],
			['attic', 'Attic', 'not running', 'ok', '12 s ago', '0.1.0'],
			['hall', 'Hall', 'not running', 'unknown', 'no record from it yet', null],
			['kitchen', 'Kitchen', 'overdue', 'lost', `no contact since ${clock(now - 600)}`, '0.1.0']
		]);
	});
});
