// Why the Sense HAT's compensated temperature is empty, in words: the row would otherwise show a
// bare "—". Pure, tested without Svelte.
import type { SourceView } from '$lib/api/types';

/**
 * `null` when there is a compensated temperature (or no Sense HAT data at all: the card says so).
 * `factor`: `sensors.compensation_factor` (0 turns compensation off; `undefined`: not loaded).
 */
export function whyNoCompensation(
	sensors: SourceView | undefined,
	system: SourceView | undefined,
	factor: number | undefined
): string | null {
	if (!sensors || Object.keys(sensors.readings).length === 0) return null;
	const compensated = sensors.readings.temperature_compensated;
	if (typeof compensated?.value === 'number') return null;
	const raw = sensors.readings.temperature;
	if (!raw || raw.value === null) return 'The sensor gave no temperature to correct.';
	if (factor === 0) return 'Compensation is off (Settings → sensors: compensation factor 0).';
	const cpu = system?.readings.cpu_temp;
	if (!cpu) {
		return "Waiting for the CPU temperature from the System source: the CPU's heat is taken off with it.";
	}
	if (cpu.value === null) {
		return "This machine reports no CPU temperature, so the CPU's heat cannot be taken off.";
	}
	if (cpu.timestamp > (compensated?.timestamp ?? raw.timestamp)) {
		return 'Warming up: the CPU temperature came after this reading; the next reading has it.';
	}
	return 'Not computed with the last reading.';
}
