// The vertical scale of the sparklines and the 24 h chart: a minimum span per unit, so that a
// wobble of a tenth of a degree is drawn as the small change it is instead of filling the
// height, and axis ticks at round, distinct values.

/** The smallest span of values drawn over a chart's height, by the reading's unit. */
export const MIN_SPAN: Readonly<Record<string, number>> = {
	C: 2,
	F: 3.6,
	'%': 10,
	ppm: 100,
	mbar: 5,
	mb: 5,
	hPa: 5,
	'km/h': 5,
	km: 2,
	load: 0.5
};

/** The smallest span for `unit`; for a unit not listed (counts, seconds), 2 % of the values'
 *  size, and at least 1. */
export function minSpan(unit: string | null | undefined, mid: number): number {
	return (unit && MIN_SPAN[unit]) || Math.max(1, Math.abs(mid) * 0.02);
}

/** The range to draw `values` in: theirs when wide enough, else `minSpan` around their middle
 *  (not below 0 for values that are all positive). */
export function valueRange(values: Iterable<number>, unit: string | null | undefined): { lo: number; hi: number } {
	let min = Infinity;
	let max = -Infinity;
	for (const v of values) {
		if (v < min) min = v;
		if (v > max) max = v;
	}
	if (min > max) return { lo: 0, hi: 1 };
	const span = minSpan(unit, (min + max) / 2);
	if (max - min >= span) return { lo: min, hi: max };
	let lo = (min + max) / 2 - span / 2;
	if (min >= 0 && lo < 0) lo = 0;
	return { lo, hi: lo + span };
}

/** Round ticks covering `lo`–`hi` (about `count` steps of 1, 2, 2.5 or 5 × 10ⁿ) and the decimals
 *  that tell them apart. */
export function niceTicks(lo: number, hi: number, count = 4): { ticks: number[]; decimals: number } {
	const span = hi > lo ? hi - lo : Math.abs(hi) || 1;
	const raw = span / count;
	const mag = 10 ** Math.floor(Math.log10(raw));
	const factor = [1, 2, 2.5, 5, 10].find((m) => m * mag >= raw * (1 - 1e-9)) ?? 10;
	const step = factor * mag;
	const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9) + (factor === 2.5 ? 1 : 0));
	const first = Math.floor(lo / step + 1e-9);
	const last = Math.ceil(hi / step - 1e-9);
	const ticks: number[] = [];
	for (let i = first; i <= Math.max(last, first + 1); i++) ticks.push(Number((i * step).toFixed(decimals)));
	return { ticks, decimals };
}

/** A tick's label, with the decimals of its step (`1,016.5`, `8.00`). */
export function formatTick(value: number, decimals: number): string {
	return value.toLocaleString('en-GB', { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
}
