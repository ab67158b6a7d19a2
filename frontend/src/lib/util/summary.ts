// The overview's summary row, from the sources as the store has them: the worst CO2 room, the
// inside and outside temperatures, the Pi's health in a word. Pure, so all of it is unit-tested;
// the levels are the cards' own (format.ts), never numbers of its own.
import type { Reading, Sources } from '$lib/api/types';
import {
	CO2_LABELS,
	aranetLabels,
	co2Level,
	cpuTempLevel,
	formatNumber,
	numeric,
	percentLevel,
	type Co2Level,
	type Tone
} from './format';
import { nodeIds, nodeLabel } from './node';

/** The Aranet4 monitor with the highest CO2, its level and that level in words. */
export interface WorstCo2 {
	label: string;
	ppm: number;
	level: Co2Level;
	words: string;
}

/** The highest CO2 among the Aranet4 monitors (`{label}:co2`); `null` when none has a value. */
export function worstCo2(sources: Sources): WorstCo2 | null {
	const co2 = sources.co2;
	let worst: WorstCo2 | null = null;
	for (const label of aranetLabels(co2)) {
		const ppm = numeric(co2?.readings[`${label}:co2`]);
		if (ppm === null || (worst && worst.ppm >= ppm)) continue;
		const level = co2Level(ppm);
		worst = { label, ppm, level, words: CO2_LABELS[level] };
	}
	return worst;
}

/** A temperature and where it was measured. */
export interface Placed {
	reading: Reading;
	from: string;
}

/** Inside: the Sense HAT's compensated temperature (the raw one is warmed by the Pi's CPU), else
 *  the first node's that has one. */
export function insideTemp(sources: Sources): Placed | null {
	const hat = sources.sensors?.readings.temperature_compensated;
	if (numeric(hat) !== null) return { reading: hat!, from: 'Sense HAT' };
	for (const id of nodeIds(sources)) {
		const t = sources[id]?.readings.temperature;
		if (numeric(t) !== null) return { reading: t!, from: nodeLabel(id) };
	}
	return null;
}

/** Outside: the weather's temperature, with its conditions ("Partly cloudy") when it says them. */
export function outsideTemp(sources: Sources): Placed | null {
	const w = sources.weather?.readings;
	if (numeric(w?.weather_temp) === null) return null;
	const conditions = w?.weather_conditions?.value;
	return { reading: w!.weather_temp!, from: typeof conditions === 'string' && conditions ? conditions : 'Weather' };
}

/** The Pi's health in one word, its tone, and the numbers behind it. */
export interface Health {
	word: string;
	tone: Tone;
	detail: string;
}

const worse = (a: Tone, b: Tone): Tone => (a === 'alert' || b === 'alert' ? 'alert' : a === 'warn' || b === 'warn' ? 'warn' : 'good');

/** From the system source: the CPU temperature and the disk at the cards' levels (the load is said,
 *  not judged: a Pi's normal load depends on its cores); `null` without any of them. */
export function piHealth(sources: Sources): Health | null {
	const r = sources.system?.readings;
	const temp = numeric(r?.cpu_temp);
	const load = numeric(r?.load_1min);
	const disk = numeric(r?.disk_percent);
	if (temp === null && load === null && disk === null) return null;
	const heat = temp === null ? 'good' : cpuTempLevel(temp);
	const full = disk === null ? 'good' : percentLevel(disk);
	const tone = worse(heat, full);
	const word =
		heat === 'alert' ? 'Hot' : full === 'alert' ? 'Disk full' : heat === 'warn' ? 'Warm' : full === 'warn' ? 'Disk filling' : 'OK';
	const detail = [
		temp !== null ? `CPU ${formatNumber(Math.round(temp))} °C` : null,
		load !== null ? `load ${load.toFixed(2)}` : null,
		disk !== null ? `disk ${formatNumber(Math.round(disk))} %` : null
	]
		.filter(Boolean)
		.join(' · ');
	return { word, tone, detail };
}
