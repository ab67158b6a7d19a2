// The Pis of a multi-node installation (issue 19): a hub runs Redis, the gateway and its own
// sources (ids as the contract has them: `sensors`), and each satellite Pi named by its
// NODE_NAME (`kitchen`) writes its sources with their ids scoped, `sensors@kitchen`, and a
// `node:{name}` record the gateway judges in or out of contact (`GET /api/nodes`). Not to be
// confused with the microcontroller nodes on a serial link (`node-{name}`, ./node.ts). Pure, so
// all of it is unit-tested.
import type { NodeView, Sources, Status } from '$lib/api/types';
import { formatAgo, when } from './format';

/** What separates a source id from the node it belongs to (`sensors@kitchen`). */
export const NODE_SEPARATOR = '@';

/** The room the hub's section is headed with. */
export const HUB_ROOM = 'This Pi';

/** A possibly scoped id (`sensors@kitchen`) as its base id and its node's name (`null`: the
 *  hub's). */
export function splitScoped(id: string): [string, string | null] {
	const i = id.indexOf(NODE_SEPARATOR);
	return i < 0 ? [id, null] : [id.slice(0, i), id.slice(i + 1)];
}

/** `base` as `node`'s: `sensors@kitchen`, or `sensors` for the hub (`null`). */
export const scopedId = (base: string, node: string | null | undefined) =>
	node ? `${base}${NODE_SEPARATOR}${node}` : base;

/** The node a source id belongs to (`null`: the hub). */
export const nodeOf = (id: string) => splitScoped(id)[1];

/** The room a node name stands for, as the Rust `NodeName::room` says it: `living-room` →
 *  "Living room". */
export function roomOf(name: string): string {
	const words = name.replaceAll('-', ' ');
	return words.charAt(0).toUpperCase() + words.slice(1);
}

/** One satellite Pi as the overview groups it: its name, its room, its record (`null`: its
 *  sources are on the bus but no record came yet), and its sources' ids, sorted. */
export interface NodeGroup {
	name: string;
	room: string;
	node: NodeView | null;
	ids: string[];
}

/** The satellite Pis, by name: those with a record and those whose sources are on the bus. */
export function nodeGroups(sources: Sources, nodes: readonly NodeView[]): NodeGroup[] {
	const groups = new Map<string, NodeGroup>();
	const group = (name: string) => {
		let g = groups.get(name);
		if (!g) {
			g = { name, room: roomOf(name), node: null, ids: [] };
			groups.set(name, g);
		}
		return g;
	};
	for (const node of nodes) {
		const g = group(node.name);
		g.node = node;
		if (node.room) g.room = node.room;
	}
	for (const id of Object.keys(sources).sort()) {
		const name = nodeOf(id);
		if (name) group(name).ids.push(id);
	}
	return [...groups.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/** The nodes out of contact, by name. */
export function lostNodes(nodes: readonly NodeView[]): Map<string, NodeView> {
	return new Map(nodes.filter((n) => n.contact === 'lost').map((n) => [n.name, n]));
}

/** "no contact since 14:02" (a date before today's). */
export const noContactText = (node: NodeView, now: number) => `no contact since ${when(node.last_contact, now)}`;

/** The one problem a lost node is: "Kitchen: no contact since 14:02". */
export const lostText = (node: NodeView, now: number) => `${node.room || roomOf(node.name)}: ${noContactText(node, now)}`;

/** An orchestrator's state in a word, and what it says beyond that: `running`; `overdue` with
 *  the sources it names ("Sense HAT, CO₂"); `warning` with its error; `not running` (no status:
 *  it stopped, or its status expired). */
export interface OrchestratorState {
	state: 'running' | 'overdue' | 'warning' | 'not running';
	detail: string | null;
}

/** The state of the orchestrator whose status is `status`; `name` says a source's name. */
export function orchestratorState(
	status: Status | null | undefined,
	name: (id: string) => string
): OrchestratorState {
	if (!status) return { state: 'not running', detail: null };
	const error = status.last_error;
	if (!error) return { state: 'running', detail: null };
	const m = /^overdue: (.+)$/.exec(error);
	if (m?.[1]) {
		const ids = m[1].split(',').map((s) => splitScoped(s.trim())[0]).filter(Boolean);
		return { state: 'overdue', detail: ids.map(name).join(', ') };
	}
	return { state: 'warning', detail: error };
}

/** One Pi in the Status page's Nodes table: the hub first (`name` `null`), then each satellite
 *  by name. */
export interface PiRow {
	name: string | null;
	room: string;
	/** Its orchestrator's source id (`orchestrator`, `orchestrator@kitchen`). */
	orchestratorId: string;
	orchestrator: OrchestratorState;
	/** `ok`, `lost`, `hub` (this Pi: the gateway runs on it), or `unknown` (its sources are on
	 *  the bus, its record is not). */
	contact: 'ok' | 'lost' | 'hub' | 'unknown';
	/** "12 s ago", "no contact since 14:02"; for the hub, its orchestrator's last health write. */
	contactText: string;
	version: string | null;
}

/** Every Pi of the installation, as the Status page lists them. */
export function piRows(
	sources: Sources,
	nodes: readonly NodeView[],
	hubVersion: string | null,
	now: number,
	name: (id: string) => string
): PiRow[] {
	const hubStatus = sources.orchestrator?.status;
	const hub: PiRow = {
		name: null,
		room: HUB_ROOM,
		orchestratorId: 'orchestrator',
		orchestrator: orchestratorState(hubStatus, name),
		contact: 'hub',
		contactText: hubStatus?.last_poll ? `health ${formatAgo(now - hubStatus.last_poll)}` : 'this Pi',
		version: hubVersion
	};
	const rows = nodeGroups(sources, nodes).map((g): PiRow => {
		const orchestratorId = scopedId('orchestrator', g.name);
		const node = g.node;
		return {
			name: g.name,
			room: g.room,
			orchestratorId,
			orchestrator: orchestratorState(sources[orchestratorId]?.status, name),
			contact: node?.contact ?? 'unknown',
			contactText: !node
				? 'no record from it yet'
				: node.contact === 'lost'
					? noContactText(node, now)
					: formatAgo(now - node.last_contact),
			version: node?.version ?? null
		};
	});
	return [hub, ...rows];
}
