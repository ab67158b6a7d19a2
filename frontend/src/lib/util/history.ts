// Pure helpers of the history chart and the cards: today's extremes, a span's statistics, zoom
// math, time-axis ticks, the CSV download. No Svelte here, so all of it is unit-tested directly.
import type { HistoryRange, RawPoint, RollupPoint } from '$lib/api/history';

export type Points = ReadonlyArray<readonly [number, number]>;
export type Buckets = ReadonlyArray<Readonly<RollupPoint>>;
/** A time span `[from, to]`, Unix seconds. */
export type Span = readonly [number, number];

/** Local midnight before `now` (Unix seconds). */
export function localMidnight(now: number): number {
	const d = new Date(now * 1000);
	d.setHours(0, 0, 0, 0);
	return d.getTime() / 1000;
}

/** The lowest and highest value since the local midnight before `now` (`null` with fewer than 2
 *  points today). */
export function todayRange(points: Points | undefined, now: number): { min: number; max: number } | null {
	if (!points) return null;
	const since = localMidnight(now);
	let min = Infinity,
		max = -Infinity,
		n = 0;
	for (const [t, v] of points) {
		if (t < since) continue;
		if (v < min) min = v;
		if (v > max) max = v;
		n++;
	}
	return n >= 2 ? { min, max } : null;
}

/** At most `n` points: averages over `n` equal slices of the points' time span (for a sparkline
 *  of a day of raw points). */
export function downsample(points: Points, n: number): Points {
	if (points.length <= n) return points;
	const t0 = points[0]![0];
	const width = (points[points.length - 1]![0] - t0) / n || 1;
	const out: Array<readonly [number, number]> = [];
	let slice = -1,
		st = 0,
		sv = 0,
		count = 0;
	const flush = () => count && out.push([st / count, sv / count]);
	for (const [t, v] of points) {
		const s = Math.min(n - 1, Math.floor((t - t0) / width));
		if (s !== slice) {
			flush();
			slice = s;
			st = sv = count = 0;
		}
		st += t;
		sv += v;
		count++;
	}
	flush();
	return out;
}

export interface Stats {
	min: number;
	mean: number;
	max: number;
}

/** Min, mean and max of raw points or rollup buckets within `span` (all without one); `null`
 *  when none is in it. Buckets: the lowest minimum, the mean of the means, the highest maximum. */
export function spanStats(points: ReadonlyArray<readonly number[]>, span?: Span | null): Stats | null {
	let min = Infinity,
		max = -Infinity,
		sum = 0,
		n = 0;
	for (const p of points) {
		const t = p[0]!;
		if (span && (t < span[0] || t > span[1])) continue;
		const [lo, mean, hi] = p.length === 4 ? [p[1]!, p[2]!, p[3]!] : [p[1]!, p[1]!, p[1]!];
		if (lo < min) min = lo;
		if (hi > max) max = hi;
		sum += mean;
		n++;
	}
	return n ? { min, mean: sum / n, max } : null;
}

/** The points inside `span`, with the nearest one either side so a line reaches the edges. */
export function clipTo<P extends readonly number[]>(points: ReadonlyArray<P>, span: Span): P[] {
	let first = 0;
	while (first < points.length && points[first]![0]! < span[0]) first++;
	let last = points.length - 1;
	while (last >= 0 && points[last]![0]! > span[1]) last--;
	return points.slice(Math.max(0, first - 1), Math.min(points.length, last + 2));
}

/** Smallest span a zoom goes down to: a minute of raw points, four buckets of rollups. */
export const minZoom = (resolution: number) => Math.max(60, resolution * 4);

/** Keeps `[a, b]` inside `domain`, at least `least` seconds wide (and no wider than it). */
export function clampSpan(a: number, b: number, domain: Span, least: number): Span {
	let [from, to] = a <= b ? [a, b] : [b, a];
	const full = domain[1] - domain[0];
	const width = Math.min(full, Math.max(least, to - from));
	const mid = (from + to) / 2;
	from = Math.min(Math.max(domain[0], mid - width / 2), domain[1] - width);
	to = from + width;
	return [from, to];
}

/** The span between two x positions (`plot`: the plot's left and width in the same units) on an
 *  axis that shows `view`; within `domain`, at least `least` wide. */
export function spanFromPixels(
	xa: number,
	xb: number,
	plot: { left: number; width: number },
	view: Span,
	domain: Span,
	least: number
): Span {
	const t = (x: number) => view[0] + ((x - plot.left) / plot.width) * (view[1] - view[0]);
	return clampSpan(t(xa), t(xb), domain, least);
}

/** `view` zoomed by `factor` (< 1: in) around `centre` (its middle by default), within `domain`. */
export function zoomBy(view: Span, factor: number, domain: Span, least: number, centre?: number): Span {
	const c = centre ?? (view[0] + view[1]) / 2;
	const a = c - (c - view[0]) * factor;
	const b = c + (view[1] - c) * factor;
	return clampSpan(a, b, domain, least);
}

/** `view` moved by `fraction` of its width (negative: back in time), within `domain`. */
export function pan(view: Span, fraction: number, domain: Span): Span {
	const shift = (view[1] - view[0]) * fraction;
	return clampSpan(view[0] + shift, view[1] + shift, domain, view[1] - view[0]);
}

const MIN = 60,
	HOUR = 3600,
	DAY = 86400;
const STEPS = [
	MIN, 5 * MIN, 10 * MIN, 15 * MIN, 30 * MIN,
	HOUR, 2 * HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR,
	DAY, 2 * DAY, 7 * DAY, 14 * DAY, 30 * DAY
];

const two = (n: number) => String(n).padStart(2, '0');

/** Ticks for a time axis over `[from, to]`: about `count` of them, at round local times (whole
 *  days at local midnight), labelled `14:30`, `Mon 12:00` or `12 Feb`. */
export function timeTicks(from: number, to: number, count = 4): Array<{ t: number; label: string }> {
	const span = to - from;
	if (!(span > 0)) return [];
	const step = STEPS.find((s) => span / s <= count + 1) ?? 30 * DAY;
	const ticks: Array<{ t: number; label: string }> = [];
	let t: number;
	if (step < DAY) {
		// Local wall-clock alignment: offset by the zone at the start (whole hours or minutes).
		const offset = -new Date(from * 1000).getTimezoneOffset() * 60;
		t = Math.ceil((from + offset) / step) * step - offset;
	} else {
		const d = new Date(from * 1000);
		if (localMidnight(from) < from) d.setHours(24, 0, 0, 0);
		t = d.getTime() / 1000;
	}
	const withDay = span > DAY;
	for (let i = 0; t <= to && i < 50; i++) {
		const d = new Date(t * 1000);
		const time = `${two(d.getHours())}:${two(d.getMinutes())}`;
		const date = d.toLocaleDateString('en-GB', { day: 'numeric', month: 'short' });
		const label =
			step >= DAY ? date : withDay ? `${d.toLocaleDateString('en-GB', { weekday: 'short' })} ${time}` : time;
		ticks.push({ t, label });
		// Whole days step by the calendar (a day with a DST change is 23 or 25 h long).
		if (step >= DAY) {
			d.setDate(d.getDate() + step / DAY);
			t = d.getTime() / 1000;
		} else t += step;
	}
	return ticks;
}

/** A value for a CSV cell: up to 3 decimals, a dot, no grouping. */
const cell = (v: number) => String(Math.round(v * 1000) / 1000);

/** The CSV of what a chart shows (`span`: its zoom): raw points as `timestamp,value`, rollup
 *  buckets as `timestamp,min,mean,max`; timestamps ISO 8601 (UTC); the unit in the header. */
export function toCsv(
	points: ReadonlyArray<Readonly<RawPoint>> | Buckets,
	rollup: boolean,
	unit: string,
	span?: Span | null
): string {
	const u = unit ? ` (${unit})` : '';
	const header = rollup ? `timestamp,min${u},mean${u},max${u}` : `timestamp,value${u}`;
	const rows = [header];
	for (const p of points) {
		if (span && (p[0] < span[0] || p[0] > span[1])) continue;
		rows.push([new Date(p[0] * 1000).toISOString(), ...p.slice(1).map(cell)].join(','));
	}
	return rows.join('\r\n') + '\r\n';
}

/** The CSV's file name: `sense-pulse_{source}_{sensor}_{range}.csv` (`_zoom` when zoomed),
 *  anything but letters, digits, `_`, `-` and `.` as `-`. */
export function csvName(source: string, sensor: string, range: HistoryRange, zoomed = false): string {
	const safe = (s: string) => s.replace(/[^A-Za-z0-9_.-]+/g, '-');
	return `sense-pulse_${safe(source)}_${safe(sensor)}_${range}${zoomed ? '_zoom' : ''}.csv`;
}
