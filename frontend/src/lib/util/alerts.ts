// Alert events in words, for the overview's banner and the /alerts page. Pure (no Svelte), so it
// is unit-tested; the dates and numbers are format.ts's.
import type { AlertEvent, ChannelHealth } from '$lib/api/types';
import { formatAgo, formatDuration, formatReading, when, type TempUnit } from './format';

/** The event's value as shown ("1,520 ppm", "31.5 °C"), °C/°F applied; '' without one (a
 *  source or the bus down). */
export function alertValue(e: Pick<AlertEvent, 'value' | 'unit'>, tempUnit: TempUnit = 'C'): string {
	if (e.value === null) return '';
	const { text, unit } = formatReading({ value: e.value, unit: e.unit }, tempUnit);
	return unit ? `${text} ${unit}` : text;
}

/** What was crossed: the rule's threshold with its side ("≥ 1,400 ppm", "≤ 5.0 °C"), or "source
 *  down", "data bus down", "no contact" (a Pi lost). */
export function alertCondition(
	e: Pick<AlertEvent, 'threshold' | 'unit' | 'condition'>,
	tempUnit: TempUnit = 'C'
): string {
	if (e.condition === 'source_down') return 'source down';
	if (e.condition === 'bus_down') return 'data bus down';
	if (e.condition === 'node_lost') return 'no contact';
	if (e.threshold === null) return e.condition;
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

/** The colour of a channel's state. */
export const channelTone = (state: ChannelHealth['state']) => (state === 'ok' ? 'good' : state === 'failing' ? 'alert' : 'off');

/** A channel's health in words, each part on its own: what its state means, when it last
 *  delivered, when and why it last failed, what waits and what was dropped. */
export function channelDetails(c: ChannelHealth, now: number): string[] {
	const out: string[] = [];
	if (c.state === 'off') out.push('not sending (off in the settings, or a simulated run)');
	if (c.last_success !== null) out.push(`last sent ${formatAgo(now - c.last_success)}`);
	if (c.state === 'failing' || c.last_error) {
		const at = c.last_failure !== null ? ` ${formatAgo(now - c.last_failure)}` : '';
		out.push(`failed${at}${c.last_error ? `: ${c.last_error}` : ''}`);
	}
	if (c.pending) out.push(`${c.pending} waiting`);
	if (c.dropped) out.push(`${c.dropped} dropped (too many waiting)`);
	return out;
}
