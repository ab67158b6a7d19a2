// The batched history API, `GET /api/history?series=…&range=…`: its types and the pure helpers
// around them (series ids, ranges, resolutions, splitting a request).
//
// The types are the gateway's own (ts-rs, ./generated).

export type { HistoryBatch } from './generated/HistoryBatch';
export type { HistoryRange } from './generated/HistoryRange';
export type { HistorySeries } from './generated/HistorySeries';
import type { HistoryRange } from './generated/HistoryRange';
import type { HistorySeries } from './generated/HistorySeries';

/** `[timestamp, value]`: a raw point (`resolution` 0). Unix seconds. */
export type RawPoint = [number, number];
/** `[bucket_start, min, mean, max]`: a rollup bucket (`resolution` > 0). Unix seconds. */
export type RollupPoint = [number, number, number, number];

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
