// Microcontroller nodes on a serial link (`node-{name}` sources, a Pico with the Sense HAT's
// sensors): which sources they are, what they measure, and their link's health in words. Pure, so
// all of it is unit-tested.
import type { LinkHealth, NodeSourceId, Reading, Sources } from '$lib/api/types';
import { formatAgo, when } from './format';

/** What every node's source id starts with. */
export const NODE_PREFIX = 'node-';

/** Whether `id` is a node's source (`node-pico-e661`). */
export const isNodeSource = (id: string): id is NodeSourceId =>
	id.startsWith(NODE_PREFIX) && id.length > NODE_PREFIX.length;

/** The node's own name, after `node-` (`pico-e661`). */
export const nodeName = (id: string) => (isNodeSource(id) ? id.slice(NODE_PREFIX.length) : id);

/** The node sources among `sources`, by id. */
export const nodeIds = (sources: Sources): NodeSourceId[] => Object.keys(sources).filter(isNodeSource).sort();

/** A node as the dashboard names it: "Pico node pico-e661". */
export const nodeLabel = (id: string) => `Pico node ${nodeName(id)}`;

/** The sensors a node may have, in the order shown, with their labels. */
export const NODE_SENSORS: Record<string, string> = {
	temperature: 'Temperature',
	humidity: 'Humidity',
	pressure: 'Pressure'
};

/** The rows of a node's card: its readings and what it says it measures (its hello), the known
 *  sensors first, in their order, then any other by id. */
export function nodeSensors(readings: Record<string, Reading>, link: LinkHealth | undefined): string[] {
	const all = new Set([...Object.keys(readings), ...(link?.measures ?? [])]);
	const known = Object.keys(NODE_SENSORS).filter((s) => all.has(s));
	const other = [...all].filter((s) => !(s in NODE_SENSORS)).sort();
	return [...known, ...other];
}

/** "USB serial /dev/ttyACM0 · firmware 0.1.0 · protocol 1.0" (what the node has not said is left
 *  out). */
export function linkLine(link: LinkHealth): string {
	return [
		`USB serial ${link.port}`,
		link.firmware ? `firmware ${link.firmware}` : null,
		link.protocol ? `protocol ${link.protocol}` : null
	]
		.filter(Boolean)
		.join(' · ');
}

const times = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

/** What went wrong on the link so far, when anything did: "3 damaged frames skipped",
 *  "restarted 2 times". */
export function linkTrouble(link: LinkHealth): string[] {
	const out: string[] = [];
	if (link.bad_frames > 0) out.push(`${times(link.bad_frames, 'damaged frame', 'damaged frames')} skipped`);
	if (link.restarts > 0) out.push(`restarted ${times(link.restarts, 'time', 'times')}`);
	return out;
}

/** Whether the node has never been heard on this link (no hello, no frame). */
const neverHeard = (link: LinkHealth) => link.frames === 0 && link.last_frame === null;

/** The link's state in a word or two: `connected`, `lost`, or `not connected` for a node never
 *  heard on it. */
export function linkWord(link: LinkHealth): 'connected' | 'lost' | 'not connected' {
	if (link.connected) return 'connected';
	return neverHeard(link) ? 'not connected' : 'lost';
}

/** "since 14:02 (3 min ago)": since when the link is what it is. */
export const linkSince = (link: LinkHealth, now: number) =>
	`since ${when(link.since, now)} (${formatAgo(now - link.since)})`;

/** The link's state in words, with since when: "Connected since 14:02 (3 min ago)", "Link lost
 *  since 14:02 (3 min ago)", or, for a node never heard, "Not connected since 14:02 (…)". */
export function linkState(link: LinkHealth, now: number): string {
	const word = linkWord(link);
	const said = word === 'lost' ? 'Link lost' : word === 'connected' ? 'Connected' : 'Not connected';
	return `${said} ${linkSince(link, now)}`;
}

/** What a lost link means for the values, to say after `linkState`. */
export function lostDetail(link: LinkHealth): string {
	return neverHeard(link)
		? `the node has not said hello on ${link.port} yet (is it plugged in?)`
		: `nothing from the node on ${link.port} (unplugged, or reset?); the values are the last received`;
}
