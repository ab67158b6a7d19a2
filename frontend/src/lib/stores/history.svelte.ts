// 24 h of raw points of the numeric readings on screen, for the sparklines and today's min/max:
// the readings asked for in the same moment are fetched together (`GET /api/history`, at most
// `MAX_SERIES` per request), once, then extended with the live values the sources store receives.
import { SvelteMap } from 'svelte/reactivity';
import { ApiError, type Client } from '$lib/api/client';
import { seriesId, splitBatches } from '$lib/api/history';
import type { Sources } from '$lib/api/types';

export type Points = ReadonlyArray<readonly [number, number]>;

/** Points per sparkline (24 h in 30-minute averages). */
export const SPARK_POINTS = 48;
const DAY = 24 * 3600;
/** A failed fetch is tried again, at the next look at its reading, after this many seconds. */
export const RETRY_S = 30;

export class HistoryStore {
	private series = new SvelteMap<string, Points>();
	/** Series asked for: when they may be asked again (`Infinity`: loaded or in flight). */
	private requested = new Map<string, number>();
	private pending = new Set<string>();
	/** The last fetch's failure in words (`null` when it worked): "the data bus is down", … */
	problem = $state<string | null>(null);

	constructor(
		private readonly client: Pick<Client, 'historyBatch'>,
		private readonly now: () => number = () => Date.now() / 1000
	) {}

	/** The points of a reading (`undefined` until loaded); asks for them the first time. */
	points(source: string, sensor: string): Points | undefined {
		const id = seriesId(source, sensor);
		const retry = this.requested.get(id);
		if (retry === undefined || retry <= this.now()) {
			this.requested.set(id, Infinity);
			if (this.pending.size === 0) queueMicrotask(() => this.flush());
			this.pending.add(id);
		}
		return this.series.get(id);
	}

	/** One request per `MAX_SERIES` of the readings asked for since the last flush. */
	private flush(): void {
		const ids = [...this.pending];
		this.pending.clear();
		for (const batch of splitBatches(ids)) {
			this.client
				.historyBatch(batch, '24h')
				.then((h) => {
					this.problem = null;
					// A series the gateway has no history of yet: empty, not asked again.
					for (const id of batch) this.merge(id, (h.series[id]?.points ?? []) as Points);
				})
				.catch((e: unknown) => {
					this.problem =
						e instanceof ApiError && e.status === 503 ? 'the data bus is down' : (e as Error).message;
					// What is shown stays; the series are asked for again a little later.
					for (const id of batch) this.requested.set(id, this.now() + RETRY_S);
				});
		}
	}

	/** Loaded points, with live values that arrived meanwhile kept after them. */
	private merge(id: string, loaded: Points): void {
		const live = this.series.get(id) ?? [];
		const last = loaded.length ? loaded[loaded.length - 1]![0] : -Infinity;
		this.series.set(id, [...loaded, ...live.filter(([t]) => t > last)]);
	}

	/** Appends a live value (newer than the last point), dropping points older than 24 h. */
	append(source: string, sensor: string, t: number, v: number): void {
		const id = seriesId(source, sensor);
		if (!this.requested.has(id)) return;
		const old = this.series.get(id) ?? [];
		if (old.length && old[old.length - 1]![0] >= t) return;
		const cutoff = t - DAY;
		const kept = old[0] && old[0][0] < cutoff ? old.filter(([pt]) => pt >= cutoff) : old;
		this.series.set(id, [...kept, [t, v]]);
	}

	/** Feeds in every numeric reading of the sources a live message changed. */
	ingest(update: Sources): void {
		for (const [source, view] of Object.entries(update)) {
			for (const [sensor, r] of Object.entries(view.readings)) {
				if (typeof r.value === 'number' && Number.isFinite(r.value))
					this.append(source, sensor, r.timestamp, r.value);
			}
		}
	}
}
