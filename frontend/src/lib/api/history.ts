// The batched history API, `GET /api/history?series=…&range=…`: its types and the pure helpers
// around them (series ids, ranges, resolutions, splitting a request).
//
// These types are written by hand to the gateway's shape until its ts-rs types land in
// ./generated: then replace the four `export type`/`interface` definitions below with
// `export type { … } from './generated/…'` (same names; nothing else should need to change).

/** A range the API serves. */
export type HistoryRange = '1h' | '24h' | '7d' | '30d' | '90d';

/** `[timestamp, value]`: a raw point (`resolution` 0). Unix seconds. */
export type RawPoint = [number, number];
/** `[bucket_start, min, mean, max]`: a rollup bucket (`resolution` > 0). Unix seconds. */
export type RollupPoint = [number, number, number, number];

/** One series of a `HistoryBatch`. */
export interface HistorySeries {
	source: string;
	sensor: string;
	/** The reading's unit (`C`, `%`, `ppm`). */
	unit: string | null;
	/** Raw points when the batch's `resolution` is 0, rollup buckets otherwise; oldest first. */
	points: RawPoint[] | RollupPoint[];
	/** Over the whole range; `null` when there are no points. */
	min: number | null;
	mean: number | null;
	max: number | null;
}

/** `GET /api/history?series=…&range=…` (200). */
export interface HistoryBatch {
	range: HistoryRange;
	/** Seconds per bucket; 0: raw points. */
	resolution: number;
	/** The range's start and end, Unix seconds. */
	from: number;
	to: number;
	/** By series id (`{source}:{sensor}`). */
	series: Record<string, HistorySeries>;
}

export const RANGES: readonly HistoryRange[] = ['1h', '24h', '7d', '30d', '90d'];

/** Seconds each range spans. */
export const RANGE_SECONDS: Readonly<Record<HistoryRange, number>> = {
	'1h': 3600,
	'24h': 86400,
	'7d': 7 * 86400,
	'30d': 30 * 86400,
	'90d': 90 * 86400
};

/** The resolution the gateway answers each range with (seconds per bucket; 0: raw points). */
export const RESOLUTION: Readonly<Record<HistoryRange, number>> = {
	'1h': 0,
	'24h': 0,
	'7d': 300,
	'30d': 3600,
	'90d': 3600
};

/** The range's words: "last hour", "last 7 days". */
export const RANGE_LABELS: Readonly<Record<HistoryRange, string>> = {
	'1h': 'last hour',
	'24h': 'last 24 h',
	'7d': 'last 7 days',
	'30d': 'last 30 days',
	'90d': 'last 90 days'
};

/** At most this many series per request (more: 400). */
export const MAX_SERIES = 16;

/** A series id: `{source}:{sensor}` (a source id never contains `:`, a sensor id may). */
export const seriesId = (source: string, sensor: string) => `${source}:${sensor}`;

/** A series id's source and sensor: split at the first `:`. */
export function parseSeriesId(id: string): { source: string; sensor: string } {
	const i = id.indexOf(':');
	return i < 0 ? { source: id, sensor: '' } : { source: id.slice(0, i), sensor: id.slice(i + 1) };
}

/** `ids` without repeats, in requests of at most `max` each. */
export function splitBatches(ids: Iterable<string>, max = MAX_SERIES): string[][] {
	const unique = [...new Set(ids)];
	const out: string[][] = [];
	for (let i = 0; i < unique.length; i += max) out.push(unique.slice(i, i + max));
	return out;
}

/** The request's path: each id URL-encoded but for its `:` (`co2:office:co2`), joined by `,`. */
export function historyPath(ids: readonly string[], range: HistoryRange): string {
	const series = ids.map((id) => encodeURIComponent(id).replace(/%3A/gi, ':')).join(',');
	return `/api/history?series=${series}&range=${range}`;
}

/** Whether a series' points are rollup buckets. */
export const isRollup = (points: HistorySeries['points']): points is RollupPoint[] =>
	points.length > 0 && points[0]!.length === 4;
