// Alert events in words, for the overview's banner and the /alerts page. Pure (no Svelte), so it
// is unit-tested; the dates and numbers are format.ts's.
import type { AlertEvent } from '$lib/api/alerts';
import { formatDuration, formatReading, when, type TempUnit } from './format';

/** The event's value as shown ("1,520 ppm", "31.5 °C"), °C/°F applied. */
export function alertValue(e: Pick<AlertEvent, 'value' | 'unit'>, tempUnit: TempUnit = 'C'): string {
	const { text, unit } = formatReading({ value: e.value, unit: e.unit }, tempUnit);
	return unit ? `${text} ${unit}` : text;
}

/** The rule's threshold with its side: "≥ 1,400 ppm", "≤ 5.0 °C". */
export function alertCondition(
	e: Pick<AlertEvent, 'threshold' | 'unit' | 'condition'>,
	tempUnit: TempUnit = 'C'
): string {
	return `${e.condition === 'below' ? '≤' : '≥'} ${alertValue({ value: e.threshold, unit: e.unit }, tempUnit)}`;
}

/** "since 14:02 (12 min)": since when the condition holds. */
export function alertSince(e: Pick<AlertEvent, 'since'>, now: number): string {
	return `since ${when(e.since, now)} (${formatDuration(Math.max(0, now - e.since))})`;
}

/** How long a cleared alert lasted: from its `since` to its `at`. */
export function alertLasted(e: Pick<AlertEvent, 'since' | 'at'>): string {
	return formatDuration(Math.max(0, e.at - e.since));
}

/** Active alerts, the newest first (the one that just fired on top). */
export const activeOrder = (list: readonly AlertEvent[]) => [...list].sort((a, b) => b.since - a.since);

/** History, the newest event first. */
export const historyOrder = (list: readonly AlertEvent[]) => [...list].sort((a, b) => b.at - a.at);

/** "1 active alert", "3 active alerts". */
export const activeCount = (n: number) => `${n} active alert${n === 1 ? '' : 's'}`;
