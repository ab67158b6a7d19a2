// Pure helpers for showing readings: ages, units, temperatures, CO2 levels, staleness. No
// Svelte here, so all of it is unit-tested directly.
import type { Reading, SourceView } from '$lib/api/types';
import type { Level } from './thresholds';

export type TempUnit = 'C' | 'F';

/** "now", "12 s", "5 min", "3 h 5 min", "2 d" — how old something measured at `timestamp`
 *  (Unix seconds) is at `now` (Unix seconds). */
export function formatAge(seconds: number): string {
	if (!Number.isFinite(seconds)) return '—';
	const s = Math.max(0, Math.round(seconds));
	if (s < 5) return 'now';
	if (s < 60) return `${s} s`;
	const m = Math.floor(s / 60);
	if (m < 60) return `${m} min`;
	const h = Math.floor(m / 60);
	if (h < 24) return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
	const d = Math.floor(h / 24);
	return `${d} d`;
}

/** "12 s ago", or "just now". */
export function formatAgo(seconds: number): string {
	const age = formatAge(seconds);
	return age === 'now' ? 'just now' : age === '—' ? 'never' : `${age} ago`;
}

/** Seconds as a duration: "3 d 4 h", "2 h 5 min", "40 s". */
export function formatDuration(seconds: number): string {
	if (!Number.isFinite(seconds) || seconds < 0) return '—';
	const s = Math.round(seconds);
	const d = Math.floor(s / 86400);
	const h = Math.floor((s % 86400) / 3600);
	const m = Math.floor((s % 3600) / 60);
	if (d) return h ? `${d} d ${h} h` : `${d} d`;
	if (h) return m ? `${h} h ${m} min` : `${h} h`;
	if (m) return `${m} min`;
	return `${s} s`;
}

export const cToF = (c: number) => (c * 9) / 5 + 32;

/** Whether a unit is a temperature the °C/°F choice applies to. */
export const isCelsius = (unit: string | null | undefined) => unit === 'C';

/** A number as shown: `digits` decimals for small numbers, thousands grouped. */
export function formatNumber(value: number, digits = 1): string {
	const abs = Math.abs(value);
	const d = Number.isInteger(value) ? 0 : abs >= 1000 ? 0 : digits;
	return value.toLocaleString('en-GB', { minimumFractionDigits: d, maximumFractionDigits: d });
}

const UNIT_LABELS: Record<string, string> = {
	C: '°C',
	F: '°F',
	'%': '%',
	mbar: 'hPa',
	mb: 'hPa',
	seconds: 's'
};

/** A reading's value and unit as shown, with the °C/°F choice applied. `null` value: "—". */
export function formatReading(
	reading: Pick<Reading, 'value' | 'unit'> | undefined,
	tempUnit: TempUnit = 'C',
	digits = 1
): { text: string; unit: string } {
	if (!reading || reading.value === null || reading.value === undefined) return { text: '—', unit: '' };
	const { value, unit } = reading;
	if (typeof value === 'boolean') return { text: value ? 'yes' : 'no', unit: '' };
	if (typeof value === 'string') return { text: value, unit: '' };
	if (unit === 'seconds') return { text: formatDuration(value), unit: '' };
	if (isCelsius(unit)) {
		const v = tempUnit === 'F' ? cToF(value) : value;
		return { text: formatNumber(round(v, digits), digits), unit: tempUnit === 'F' ? '°F' : '°C' };
	}
	const shownUnit = unit ? (UNIT_LABELS[unit] ?? unit) : '';
	return { text: formatNumber(value, digits), unit: shownUnit };
}

export function round(v: number, digits: number): number {
	const f = 10 ** digits;
	return Math.round(v * f) / f;
}

/** A value converted for display (temperatures to °F when chosen); other units unchanged. */
export function convert(value: number, unit: string | null | undefined, tempUnit: TempUnit): number {
	return isCelsius(unit) && tempUnit === 'F' ? cToF(value) : value;
}

/** The numeric value of a reading, or `null` (missing, null, text, boolean). */
export function numeric(reading: Pick<Reading, 'value'> | undefined): number | null {
	const v = reading?.value;
	return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

// The levels live with the other thresholds (one place for the cards' tones and the chart's
// bands): re-exported for the callers that read them here.
export { co2Level, cpuTempLevel, percentLevel, PERCENT_ALERT, PERCENT_WARN } from './thresholds';
/** Green, amber or red. */
export type Tone = Level;
export type Co2Level = Level;

export const CO2_LABELS: Record<Co2Level, string> = {
	good: 'good',
	warn: 'ventilate soon',
	alert: 'ventilate now'
};

/** A reading counts as stale when older than this many poll intervals. */
export const STALE_INTERVALS = 3;

/** Whether a reading measured at `timestamp` is stale at `now` for a source polled every
 *  `interval` seconds (`null`: on demand, never stale by age). */
export function isStale(timestamp: number, interval: number | null, now: number): boolean {
	if (interval === null || interval <= 0) return false;
	return now - timestamp > STALE_INTERVALS * interval;
}

export type Availability = 'available' | 'stale' | 'waiting' | 'unavailable';

/**
 * How a source stands:
 * - `unavailable`: not in the bus at all, or its status expired (`status: null`);
 * - `waiting`: running, no readings yet;
 * - `stale`: the source says so (`status.stale`), or its newest reading is older than
 *   `STALE_INTERVALS` poll intervals;
 * - `available` otherwise.
 */
export function availability(
	source: SourceView | undefined,
	interval: number | null,
	now: number
): Availability {
	if (!source || !source.status) return 'unavailable';
	const stamps = Object.values(source.readings).map((r) => r.timestamp);
	if (stamps.length === 0) return 'waiting';
	if (source.status.stale) return 'stale';
	return isStale(Math.max(...stamps), interval, now) ? 'stale' : 'available';
}

/** The newest reading's timestamp of a source, or `null`. */
export function newest(source: SourceView | undefined): number | null {
	if (!source) return null;
	let t: number | null = null;
	for (const r of Object.values(source.readings)) if (t === null || r.timestamp > t) t = r.timestamp;
	return t;
}

/** Aranet4 readings are `{label}:{metric}`: the labels, in order of first appearance. */
export function aranetLabels(source: SourceView | undefined): string[] {
	if (!source) return [];
	const labels = new Set<string>();
	for (const key of Object.keys(source.readings)) {
		const i = key.lastIndexOf(':');
		if (i > 0) labels.add(key.slice(0, i));
	}
	return [...labels].sort((a, b) => a.localeCompare(b));
}

/** One forecast day rebuilt from the flat `forecast_d{n}_*` readings. */
export interface ForecastDay {
	day: number;
	date: string | null;
	description: string | null;
	max: Reading | undefined;
	min: Reading | undefined;
	avg: Reading | undefined;
}

export function forecast(source: SourceView | undefined): ForecastDay[] {
	if (!source) return [];
	const r = source.readings;
	const days: ForecastDay[] = [];
	for (let n = 0; n < 3; n++) {
		const p = `forecast_d${n}_`;
		const date = r[`${p}date`]?.value;
		const description = r[`${p}description`]?.value;
		const day: ForecastDay = {
			day: n,
			date: typeof date === 'string' ? date : null,
			description: typeof description === 'string' ? description : null,
			max: r[`${p}max_temp`],
			min: r[`${p}min_temp`],
			avg: r[`${p}avg_temp`]
		};
		if (day.date || day.max || day.min || day.description) days.push(day);
	}
	return days;
}

/** A weekday name for a forecast date (`2024-02-15`), "Today" for day 0. */
export function dayName(date: string | null, index: number): string {
	if (index === 0) return 'Today';
	if (!date) return `Day ${index + 1}`;
	const d = new Date(`${date}T12:00:00`);
	return Number.isNaN(d.getTime()) ? date : d.toLocaleDateString('en-GB', { weekday: 'short' });
}

/** A clock time for a Unix timestamp, local time. */
export function clock(timestamp: number, seconds = false): string {
	return new Date(timestamp * 1000).toLocaleTimeString('en-GB', {
		hour: '2-digit',
		minute: '2-digit',
		...(seconds ? { second: '2-digit' } : {})
	});
}

/** A time for "since …": the clock time today, with the date before that. */
export function when(timestamp: number, now: number): string {
	const sameDay = new Date(timestamp * 1000).toDateString() === new Date(now * 1000).toDateString();
	if (sameDay) return clock(timestamp);
	const day = new Date(timestamp * 1000).toLocaleDateString('en-GB', { day: 'numeric', month: 'short' });
	return `${day} ${clock(timestamp)}`;
}
