// 24 h histories of numeric readings, for the sparklines: fetched once per reading, a few at a
// time, then extended with the live values the sources store receives.
import { SvelteMap } from 'svelte/reactivity';
import type { Client } from '$lib/api/client';
import type { Sources } from '$lib/api/types';

export type Points = ReadonlyArray<readonly [number, number]>;

/** Points per sparkline (24 h in 30-minute averages). */
export const SPARK_POINTS = 48;
const DAY = 24 * 3600;
/** Requests in flight at once (the gateway is one thread on a small Pi). */
const CONCURRENCY = 4;

const key = (source: string, sensor: string) => `${source}\u0000${sensor}`;

export class HistoryStore {
	private series = new SvelteMap<string, Points>();
	private requested = new Set<string>();
	private queue: Array<[string, string]> = [];
	private active = 0;

	constructor(private readonly client: Pick<Client, 'history'>) {}

	/** The points of a reading (`undefined` until loaded); asks for them the first time. */
	points(source: string, sensor: string): Points | undefined {
		const k = key(source, sensor);
		if (!this.requested.has(k)) {
			this.requested.add(k);
			this.queue.push([source, sensor]);
			queueMicrotask(() => this.pump());
		}
		return this.series.get(k);
	}

	private pump(): void {
		while (this.active < CONCURRENCY && this.queue.length > 0) {
			const [source, sensor] = this.queue.shift()!;
			this.active++;
			this.client
				.history(source, sensor, 24, SPARK_POINTS)
				.then((h) => this.merge(key(source, sensor), h.points))
				.catch(() => this.merge(key(source, sensor), []))
				.finally(() => {
					this.active--;
					this.pump();
				});
		}
	}

	/** Loaded points, with live values that arrived meanwhile kept after them. */
	private merge(k: string, loaded: Points): void {
		const live = this.series.get(k) ?? [];
		const last = loaded.length ? loaded[loaded.length - 1]![0] : -Infinity;
		this.series.set(k, [...loaded, ...live.filter(([t]) => t > last)]);
	}

	/** Appends a live value (newer than the last point), dropping points older than 24 h. */
	append(source: string, sensor: string, t: number, v: number): void {
		const k = key(source, sensor);
		if (!this.requested.has(k)) return;
		const old = this.series.get(k) ?? [];
		if (old.length && old[old.length - 1]![0] >= t) return;
		const cutoff = t - DAY;
		const kept = old[0] && old[0][0] < cutoff ? old.filter(([pt]) => pt >= cutoff) : old;
		this.series.set(k, [...kept, [t, v]]);
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
