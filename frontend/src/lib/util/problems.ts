// What is wrong, in words, from the sources' statuses and the bus state: the overview's problem
// strip, the cards' and the Status page's amber/red. Pure, so all of it is unit-tested.
//
// A poll's outcome (`status.outcome`, ours) is `ok`, `partial` (readings written, part of the
// source failed: `last_error` and `missing` say what) or `failed` (nothing fresh written).
// Statuses without it (upstream's services) are read from `last_error`: none ok, else failed.
// A node whose serial link is not connected (`status.link`) has failed, whatever else it says.
// A satellite Pi out of contact (`GET /api/nodes`) is one problem, not one per source of it.
import type { BusState, MissingPart, NodeView, Sources, Status } from '$lib/api/types';
import { formatAgo, when } from './format';
import { isNodeSource, linkState, lostDetail, nodeLabel } from './node';
import { lostNodes, lostText, roomOf, scopedId, splitScoped } from './scope';

export { when };

export type Outcome = 'ok' | 'partial' | 'failed';

/** How the last poll went; `null` without a status. */
export function outcomeOf(status: Status | null | undefined): Outcome | null {
	if (!status) return null;
	// Nothing comes from a node while its link is down: never green, even if a status said ok.
	if (status.link && !status.link.connected) return 'failed';
	if (status.outcome) return status.outcome;
	return status.last_error ? 'failed' : 'ok';
}

/** Amber (something to look at) or red (something broken). */
export type Level = 'warn' | 'alert';

/** A badge for a source whose last poll did not go well (`null`: it went well). */
export function outcomeBadge(status: Status | null | undefined): { level: Level; label: string } | null {
	switch (outcomeOf(status)) {
		case 'partial':
			return { level: 'warn', label: 'partial' };
		case 'failed':
			return { level: 'alert', label: 'failing' };
		default:
			return null;
	}
}

/** The sources' names as the dashboard says them. */
export const SOURCE_NAMES: Record<string, string> = {
	sensors: 'Sense HAT',
	co2: 'Aranet4',
	system: 'System',
	weather: 'Weather',
	pihole: 'Pi-hole',
	tailscale: 'Tailscale',
	network_camera: 'Camera',
	orchestrator: 'Orchestrator'
};

/** A source's name as the dashboard says it: its name, a node's ("Pico node pico-e661"), else
 *  its id; a satellite Pi's with its room ("Sense HAT · Kitchen"). */
export function sourceName(id: string): string {
	const [base, node] = splitScoped(id);
	const name = SOURCE_NAMES[base] ?? (isNodeSource(base) ? nodeLabel(base) : base);
	return node ? `${name} · ${roomOf(node)}` : name;
}
const nameOf = sourceName;

/** Whether `id` is an orchestrator's: the hub's (`orchestrator`) or a satellite's
 *  (`orchestrator@kitchen`). */
export const isOrchestrator = (id: string) => splitScoped(id)[0] === 'orchestrator';

/** What failed, in words: the status's `last_error`, else what its link says. */
function failure(status: Status, now: number): string {
	if (status.last_error) return status.last_error;
	if (status.link && !status.link.connected) return `${linkState(status.link, now)}: ${lostDetail(status.link)}`;
	return 'failing';
}

/** "not heard since 05:48 (12 min ago); never heard before" for a part that gave nothing. */
export function missingText(part: MissingPart, now: number): string {
	const since = `not heard since ${when(part.since, now)} (${formatAgo(now - part.since)})`;
	const last =
		part.last_seen === null || part.last_seen === undefined
			? 'never heard before'
			: `last heard ${when(part.last_seen, now)}`;
	return `${since}; ${last}`;
}

/** One problem: what it concerns (a source id, `bus`), how bad, and what to say. */
export interface Problem {
	key: string;
	source: string;
	level: Level;
	text: string;
}

/** Sources the orchestrator says have had no success for three intervals: a satellite's
 *  orchestrator names its own, scoped here to its node when it did not say so itself. */
export function overdueIds(orchestrator: Status | null | undefined, node: string | null = null): string[] {
	const m = /^overdue: (.+)$/.exec(orchestrator?.last_error ?? '');
	const ids = m?.[1] ? m[1].split(',').map((s) => s.trim()).filter(Boolean) : [];
	return ids.map((id) => (splitScoped(id)[1] ? id : scopedId(id, node)));
}

/**
 * Every real problem, worst first: the bus down; a satellite Pi out of contact (one problem,
 * red, whatever its sources' statuses last said: they are its last words, not news); a source
 * whose last poll failed (one problem, red); each part a partial poll missed (amber; a partial
 * poll without named parts is one problem); a source an orchestrator says is overdue and that is
 * not already counted; any other trouble an orchestrator reports. A source without a status (the
 * camera before it is started) is no problem, nor are config warnings (the Status page lists
 * those).
 */
export function problems(
	sources: Sources,
	bus: BusState | null,
	now: number,
	nodes: readonly NodeView[] = []
): Problem[] {
	const out: Problem[] = [];
	if (bus?.state === 'down') {
		out.push({
			key: 'bus',
			source: 'bus',
			level: 'alert',
			text: `Data bus unreachable since ${when(bus.since, now)}: values are frozen`
		});
	}
	const lost = lostNodes(nodes);
	for (const node of lost.values()) {
		out.push({ key: `node:${node.name}`, source: `node:${node.name}`, level: 'alert', text: lostText(node, now) });
	}
	const silent = (id: string) => {
		const node = splitScoped(id)[1];
		return node !== null && lost.has(node);
	};
	const counted = new Set<string>();
	for (const [id, view] of Object.entries(sources)) {
		const status = view?.status;
		if (isOrchestrator(id) || !status || silent(id)) continue;
		const outcome = outcomeOf(status);
		if (outcome === 'failed') {
			counted.add(id);
			out.push({ key: id, source: id, level: 'alert', text: `${nameOf(id)}: ${failure(status, now)}` });
		} else if (outcome === 'partial') {
			counted.add(id);
			const missing = status.missing ?? [];
			if (missing.length === 0) {
				out.push({ key: id, source: id, level: 'warn', text: `${nameOf(id)}: ${status.last_error ?? 'partly failing'}` });
			}
			for (const part of missing) {
				out.push({
					key: `${id}:${part.name}`,
					source: id,
					level: 'warn',
					text: `${nameOf(id)} ${part.name} ${missingText(part, now)}`
				});
			}
		}
	}
	// The hub's orchestrator first, then each satellite's in contact.
	const orchestrators = Object.keys(sources)
		.filter((id) => isOrchestrator(id) && !silent(id))
		.sort((a, b) => (a === 'orchestrator' ? -1 : b === 'orchestrator' ? 1 : a.localeCompare(b)));
	for (const oid of orchestrators) {
		const orchestrator = sources[oid]?.status;
		const overdue = overdueIds(orchestrator, splitScoped(oid)[1]);
		for (const id of overdue.filter((id) => !counted.has(id))) {
			out.push({ key: `overdue:${id}`, source: id, level: 'warn', text: `${nameOf(id)}: no successful poll for 3 intervals` });
		}
		if (orchestrator?.last_error && overdue.length === 0) {
			out.push({ key: oid, source: oid, level: 'warn', text: `${nameOf(oid)}: ${orchestrator.last_error}` });
		}
	}
	const rank = (p: Problem) => (p.level === 'alert' ? 0 : 1);
	return out.sort((a, b) => rank(a) - rank(b));
}

/** "1 problem", "2 problems". */
export const countText = (n: number) => `${n} problem${n === 1 ? '' : 's'}`;
