// The cards of a satellite Pi (issue 19): a Sense HAT card takes its source id, shows that Pi's
// values, and, when the Pi is out of contact, keeps them marked "no contact" (never "failing");
// the problem strip then says one problem for the Pi; a NodesStore polls `GET /api/nodes`.
import { flushSync, mount, unmount, type Component } from 'svelte';
import { afterEach, describe, expect, test, vi } from 'vitest';
import type { NodeView, Nodes, Status } from '$lib/api/types';
import { ApiError } from '$lib/api/client';
import { clock, nodes, sources } from '$lib/app.svelte';
import { NodesStore } from '$lib/stores/nodes.svelte';
import { clock as clockTime } from '$lib/util/format';
import ProblemStrip from './ProblemStrip.svelte';
import SenseHatCard from './SenseHatCard.svelte';

let target: HTMLElement;
let component: ReturnType<typeof mount> | null = null;
const now = Math.floor(Date.now() / 1000);
clock.now = now;

afterEach(() => {
	if (component) unmount(component);
	component = null;
	target?.remove();
	sources.sources = {};
	nodes.nodes = [];
});

function render(C: Component<any>, props: Record<string, unknown> = {}) {
	target = document.createElement('div');
	document.body.append(target);
	component = mount(C, { target, props });
	flushSync();
	return target;
}

const status = (extra: Partial<Status> = {}): Status => ({
	source_id: 'sensors@kitchen',
	last_poll: now - 2,
	last_success: now - 2,
	last_error: null,
	poll_count: 3,
	error_count: 0,
	...extra
});
const kitchen = (extra: Partial<NodeView> = {}): NodeView => ({
	name: 'kitchen',
	room: 'Kitchen',
	last_contact: now - 3,
	interval_s: 15,
	sources: ['sensors@kitchen', 'orchestrator@kitchen'],
	version: '0.1.0',
	contact: 'ok',
	since_s: 3,
	...extra
});
const temperature = { value: 21.5, unit: 'C', timestamp: now - 2 };

describe("a satellite Pi's cards", () => {
	test('its Sense HAT card shows its values and a text for its LED matrix', () => {
		sources.sources = { 'sensors@kitchen': { readings: { temperature }, status: status() } };
		nodes.nodes = [kitchen()];
		const el = render(SenseHatCard, { sourceId: 'sensors@kitchen' });
		const card = el.querySelector('[data-testid="card-sensors@kitchen"]')!;
		expect(card.getAttribute('data-availability')).toBe('available');
		expect(card.querySelector('[data-sensor="temperature"]')!.getAttribute('data-value')).toBe('21.5');
		expect(card.querySelector('[data-testid="led-text"]')).not.toBeNull();
		expect(card.querySelector('h2')!.textContent).toBe('Sense HAT');
	});

	test('lost: its last values stay, marked no contact, not failing; one problem in the strip', () => {
		const since = now - 600;
		sources.sources = {
			'sensors@kitchen': { readings: { temperature }, status: status({ last_error: 'HTS221: no answer', outcome: 'failed' }) },
			'orchestrator@kitchen': { readings: {}, status: status({ source_id: 'orchestrator@kitchen', last_error: 'overdue: sensors' }) }
		};
		nodes.nodes = [kitchen({ contact: 'lost', last_contact: since, since_s: 600 })];
		const el = render(SenseHatCard, { sourceId: 'sensors@kitchen' });
		const card = el.querySelector('[data-testid="card-sensors@kitchen"]')!;
		expect(card.getAttribute('data-availability')).toBe('frozen');
		expect(card.getAttribute('data-health')).toBe('ok');
		expect(card.querySelector('[data-testid="badge"]')!.textContent).toBe('no contact');
		expect(card.querySelector('[data-testid="no-contact"]')!.textContent).toBe(
			`Kitchen: no contact since ${clockTime(since)}; these are the last values it sent.`
		);
		expect(card.querySelector('[data-sensor="temperature"]')!.getAttribute('data-value')).toBe('21.5');

		const strip = render(ProblemStrip);
		const items = [...strip.querySelectorAll('li')].map((li) => li.textContent);
		expect(items).toEqual([`Kitchen: no contact since ${clockTime(since)}`]);
		expect(strip.querySelector('[data-testid="problems-link"]')!.textContent).toContain('1 problem');
	});
});

describe('NodesStore', () => {
	const answer = (list: NodeView[]): Nodes => ({ nodes: list, bus: { state: 'up', since: now }, version: '0.2.0' });

	test('polls the nodes, keeps them through an outage, and has none on an older gateway', async () => {
		const ask = vi.fn<() => Promise<Nodes>>();
		const store = new NodesStore(() => ({ nodes: ask }), 1_000_000);
		ask.mockResolvedValueOnce(answer([kitchen({ contact: 'lost' })]));
		await store.refresh();
		expect(store.nodes.map((n) => n.name)).toEqual(['kitchen']);
		expect([...store.lost.keys()]).toEqual(['kitchen']);
		expect(store.hubVersion).toBe('0.2.0');

		ask.mockRejectedValueOnce(new ApiError(503, 'the data bus is unavailable'));
		await store.refresh();
		expect(store.nodes).toHaveLength(1);
		expect(store.error).toBe('the data bus is unavailable');

		ask.mockResolvedValueOnce(answer([kitchen()]));
		await store.refresh();
		expect(store.lost.size).toBe(0);
		expect(store.error).toBeNull();

		ask.mockRejectedValueOnce(new ApiError(404, 'not found'));
		await store.refresh();
		expect(store.nodes).toEqual([]);
	});
});
