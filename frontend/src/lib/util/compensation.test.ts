import { describe, expect, test } from 'vitest';
import type { SourceView } from '$lib/api/types';
import { whyNoCompensation } from './compensation';

const status = { source_id: 's', last_poll: 1, last_success: 1, last_error: null, poll_count: 1, error_count: 0 };
const reading = (value: number | null, timestamp: number) => ({ value, unit: 'C', timestamp });

describe('whyNoCompensation', () => {
	const sensors = (compensated: number | null, t = 100): SourceView => ({
		readings: { temperature: reading(25, t), temperature_compensated: reading(compensated, t) },
		status
	});
	const system = (cpu: number | null, t: number): SourceView => ({ readings: { cpu_temp: reading(cpu, t) }, status });

	test('says why the compensated temperature is empty, and nothing when it is there', () => {
		expect(whyNoCompensation(sensors(21), system(50, 90), 2)).toBeNull();
		expect(whyNoCompensation(undefined, undefined, 2)).toBeNull();
		expect(whyNoCompensation(sensors(null), undefined, 2)).toContain('Waiting for the CPU temperature');
		expect(whyNoCompensation(sensors(null), system(50, 101), 2)).toContain('Warming up');
		expect(whyNoCompensation(sensors(null), system(null, 90), 2)).toContain('reports no CPU temperature');
		expect(whyNoCompensation(sensors(null), system(50, 90), 0)).toContain('Compensation is off');
	});
});
