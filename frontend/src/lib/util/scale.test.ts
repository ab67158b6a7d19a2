import { describe, expect, test } from 'vitest';
import { formatTick, niceTicks, valueRange } from './scale';

describe('chart scales', () => {
	test('a wobble smaller than the unit’s minimum span is drawn in that span, around its middle', () => {
		expect(valueRange([20.0, 20.1, 20.05], 'C')).toEqual({ lo: 19.05, hi: 21.05 });
		expect(valueRange([10, 30], 'C')).toEqual({ lo: 10, hi: 30 });
		// Not below 0 for values that cannot be negative.
		expect(valueRange([1, 2], '%')).toEqual({ lo: 0, hi: 10 });
		// Counts: 2 % of their size.
		const counts = valueRange([8000, 8010], 'queries');
		expect(counts.hi - counts.lo).toBeCloseTo(160.1);
		expect(valueRange([], 'C')).toEqual({ lo: 0, hi: 1 });
	});

	test('axis ticks are round and their labels distinct', () => {
		for (const [lo, hi] of [
			[7.88, 8.02],
			[19.05, 21.05],
			[0, 100],
			[1016.2, 1017.9],
			[0.1, 0.35],
			[-3, 12],
			[8, 8]
		] as const) {
			const { ticks, decimals } = niceTicks(lo, hi);
			const labels = ticks.map((t) => formatTick(t, decimals));
			expect(new Set(labels).size, `${lo}–${hi}: ${labels}`).toBe(labels.length);
			expect(ticks[0]).toBeLessThanOrEqual(lo);
			expect(ticks.at(-1)).toBeGreaterThanOrEqual(hi);
			expect(ticks.length).toBeGreaterThanOrEqual(2);
			expect(ticks.length).toBeLessThanOrEqual(7);
		}
		expect(niceTicks(7.88, 8.02)).toEqual({ ticks: [7.85, 7.9, 7.95, 8, 8.05], decimals: 2 });
		expect(niceTicks(0, 100).ticks).toEqual([0, 25, 50, 75, 100]);
	});
});
