// Live readings and statuses of every source over `/ws/sources?mode=delta` (our extension of the
// contract, whose default `/ws/sources` resends all of `GET /api/sources` each time). Each
// message is a `SourcesDelta`:
// - `full: true` (the first of every connection): its `sources` replace everything we had, so
//   sources that went away meanwhile disappear;
// - otherwise: each listed source replaces ours whole (never merged field by field), the
//   `removed` ids are deleted, and every other source is left as it is;
// - every message says the data bus state (`bus`): while it is `down`, the gateway keeps
//   answering with the last values it saw, frozen;
// - the gateway sends one at least every `DELTA_KEEPALIVE_S` (2 s), with nothing in it if
//   nothing changed, so `SILENCE_MS` without any message means the connection is dead: it is
//   closed and retried (ReconnectingSocket's `idleTimeoutMs`);
// - `frozen` says when what is shown is no longer current, and why: the gateway cannot reach the
//   data bus (it said so), or the gateway itself cannot be reached (the connection dropped or
//   fell silent, and no new one has delivered a message yet).
// Messages of another `type` are ignored (room for the gateway to add kinds later).
import type { BusState, Sources, SourceView } from '$lib/api/types';
import { DELTA_KEEPALIVE_S } from '$lib/api/generated/constants';
import { ReconnectingSocket, type ReconnectOptions, type SocketState } from '$lib/ws';

/** The feed this store speaks (a path on the page's own host). */
export const SOURCES_PATH = '/ws/sources?mode=delta';

/** Close and reconnect after this long without a message: two keep-alives of the gateway
 *  (`DELTA_KEEPALIVE_S`, generated from its Rust constant), so one late keep-alive does not
 *  cost a reconnection, and a dead connection is noticed within 5 s of its last message. */
export const SILENCE_MS = DELTA_KEEPALIVE_S * 2000;

/** Why the values shown are not current: `bus`, the gateway cannot reach the data bus (it serves
 *  the last values it saw); `gateway`, the gateway itself cannot be reached. `since`: Unix
 *  seconds from when nothing new came (`null`: never had anything). */
export interface Frozen {
	cause: 'bus' | 'gateway';
	since: number | null;
}

/** What changed with one message: the sources (whole) that arrived, and the ids that went
 *  away (a `full` message's `removed` are the ids we had that it no longer lists). */
export type SourcesListener = (changed: Sources, removed: readonly string[]) => void;

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A `BusState`, or `null` if `v` is not one. */
export function parseBus(v: unknown): BusState | null {
	if (!isObject(v) || (v.state !== 'up' && v.state !== 'down')) return null;
	if (typeof v.since !== 'number' || !Number.isFinite(v.since)) return null;
	return typeof v.error === 'string'
		? { state: v.state, since: v.since, error: v.error }
		: { state: v.state, since: v.since };
}

/** The views of a message that look like views (an object with `readings`), without `bus`. */
function views(v: Json): Sources {
	const out: Sources = {};
	for (const [id, view] of Object.entries(v)) {
		if (!isObject(view) || !isObject(view.readings)) continue;
		const { bus: _bus, ...rest } = view as SourceView;
		out[id] = rest;
	}
	return out;
}

export class SourcesStore {
	sources = $state<Sources>({});
	/** The data bus as the gateway last said (every message; before any, from the REST seed if
	 *  that had a source). `null`: not known yet. */
	bus = $state<BusState | null>(null);
	/** Unix seconds since when the values are frozen (the bus is down), else `null`. */
	frozenSince = $derived(this.bus?.state === 'down' ? this.bus.since : null);
	state = $state<SocketState>('idle');
	/** When the next attempt is, in ms from the last failure (`null` unless waiting). */
	retryInMs = $state<number | null>(null);
	/** Unix seconds of the last message (keep-alives included: the connection lives). */
	lastMessage = $state<number | null>(null);
	/** `sources` messages received, keep-alives included. */
	messages = $state(0);
	/** The connection to the gateway was lost (dropped, fell silent, or an attempt failed) and no
	 *  message has come since. */
	lost = $state(false);
	/** When the REST seed arrived (Unix seconds), for data that never had a live message; for
	 *  the copy the service worker kept, when that was saved. */
	private seededAt = $state<number | null>(null);
	/** The values shown are the copy this device kept (the app opened offline): when it was
	 *  saved (Unix seconds). `null` once a live message came, or when the seed was live. */
	savedCopy = $state<number | null>(null);
	/** Whether, and since when, what is shown is not current (see `Frozen`); `null`: live, or not
	 *  connected yet. */
	frozen = $derived<Frozen | null>(
		this.lost
			? { cause: 'gateway', since: this.frozenSince ?? this.lastMessage ?? this.seededAt }
			: this.frozenSince !== null
				? { cause: 'bus', since: this.frozenSince }
				: null
	);
	private socket: ReconnectingSocket;
	private listeners = new Set<SourcesListener>();
	private connectListeners = new Set<() => void>();

	/** `url` must be the delta feed (`wsUrl(SOURCES_PATH)`). */
	constructor(url: () => string, options: Partial<ReconnectOptions> = {}) {
		this.socket = new ReconnectingSocket({
			idleTimeoutMs: SILENCE_MS,
			...options,
			url,
			onMessage: (data) => this.receive(data),
			onState: (state, retry) => {
				this.state = state;
				this.retryInMs = retry;
				// `closed`: a drop or a failed attempt (a retry is due); `idle`: stopped on purpose.
				if (state === 'closed') this.lost = true;
				else if (state === 'idle') this.lost = false;
			}
		});
	}

	/** Applies one message; anything that is not a `sources` message is ignored. */
	receive(data: string): void {
		let m: unknown;
		try {
			m = JSON.parse(data);
		} catch {
			return;
		}
		if (!isObject(m) || m.type !== 'sources' || !isObject(m.sources)) return;
		const changed = views(m.sources);
		const has = (id: string) => Object.hasOwn(this.sources, id);
		let removed: string[];
		if (m.full === true) {
			removed = Object.keys(this.sources).filter((id) => !Object.hasOwn(changed, id));
			this.sources = changed;
		} else {
			// An id both listed and removed (never sent) stays: dropping data is the worse mistake,
			// and the next connection's full message settles it.
			const gone = Array.isArray(m.removed) ? m.removed : [];
			removed = gone.filter(
				(id): id is string => typeof id === 'string' && has(id) && !Object.hasOwn(changed, id)
			);
			// Per key, so a card re-renders only when its own source changed.
			for (const id of removed) delete this.sources[id];
			for (const [id, view] of Object.entries(changed)) this.sources[id] = view;
		}
		const bus = parseBus(m.bus);
		if (bus) this.bus = bus;
		this.lost = false;
		this.savedCopy = null;
		this.lastMessage = Date.now() / 1000;
		this.messages += 1;
		if (m.full === true) for (const l of this.connectListeners) l();
		if (Object.keys(changed).length === 0 && removed.length === 0) return;
		for (const l of this.listeners) l(changed, removed);
	}

	/** Replaces everything with `GET /api/sources` (only before the socket's first message). Its
	 *  per-source `bus` is not kept in the views; the first one found becomes `bus`. */
	seed(all: Sources, savedAt: number | null = null): void {
		if (this.messages > 0 || !isObject(all)) return;
		this.sources = views(all);
		this.seededAt = savedAt ?? Date.now() / 1000;
		this.savedCopy = savedAt;
		for (const view of Object.values(all)) {
			const bus = parseBus(view?.bus);
			if (bus) {
				this.bus = bus;
				break;
			}
		}
	}

	/** Calls `fn` with what each message changed (not for keep-alives, not for the seed): the
	 *  history store appends the live values. */
	subscribe(fn: SourcesListener): () => void {
		this.listeners.add(fn);
		return () => this.listeners.delete(fn);
	}

	/** Calls `fn` at the first message of each connection (a `full` one): the feed is back, so
	 *  whatever is polled apart (the alerts) is asked again at once. */
	onConnect(fn: () => void): () => void {
		this.connectListeners.add(fn);
		return () => this.connectListeners.delete(fn);
	}

	connect(): void {
		this.socket.start();
	}

	disconnect(): void {
		this.socket.stop();
	}

	retryNow(): void {
		this.socket.retryNow();
	}
}
