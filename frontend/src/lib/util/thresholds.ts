// The levels the dashboard colours values by, in one place: the cards' tones and the chart's
// threshold bands both come from here.

export type Level = 'good' | 'warn' | 'alert';

/** CO2 from 1000 ppm on: ventilate soon; from 1500 ppm on: ventilate now (as the LED display). */
export const CO2_WARN_PPM = 1000;
export const CO2_ALERT_PPM = 1500;
/** The CPU is warm from 60 °C on, hot from 80 °C on. */
export const CPU_WARM_C = 60;
export const CPU_HOT_C = 80;
/** An Aranet4's battery is low below 15 %. */
export const BATTERY_LOW_PCT = 15;

export function co2Level(ppm: number): Level {
	if (ppm >= CO2_ALERT_PPM) return 'alert';
	if (ppm >= CO2_WARN_PPM) return 'warn';
	return 'good';
}

export function cpuTempLevel(celsius: number): Level {
	if (celsius >= CPU_HOT_C) return 'alert';
	if (celsius >= CPU_WARM_C) return 'warn';
	return 'good';
}

export const batteryLow = (percent: number) => percent < BATTERY_LOW_PCT;

/** How full something measured in percent is (disk, memory, CPU): amber from 75 %, red from 90 %. */
export const PERCENT_WARN = 75;
export const PERCENT_ALERT = 90;

export function percentLevel(percent: number, warnAt = PERCENT_WARN, alertAt = PERCENT_ALERT): Level {
	if (percent >= alertAt) return 'alert';
	if (percent >= warnAt) return 'warn';
	return 'good';
}

/** A band of values with a level, for a chart: `from` to `to` in the reading's own unit (°C),
 *  either end open (`null`). */
export interface Band {
	from: number | null;
	to: number | null;
	level: Level;
	label: string;
}

/** The threshold bands of a reading, by its source and sensor (none for most readings). */
export function bandsFor(source: string, sensor: string): Band[] {
	if (source === 'co2' && sensor.endsWith(':co2'))
		return [
			{ from: null, to: CO2_WARN_PPM, level: 'good', label: 'good' },
			{ from: CO2_WARN_PPM, to: CO2_ALERT_PPM, level: 'warn', label: 'ventilate soon' },
			{ from: CO2_ALERT_PPM, to: null, level: 'alert', label: 'ventilate now' }
		];
	if (source === 'system' && sensor === 'cpu_temp')
		return [
			{ from: CPU_WARM_C, to: CPU_HOT_C, level: 'warn', label: 'warm' },
			{ from: CPU_HOT_C, to: null, level: 'alert', label: 'hot' }
		];
	if (source === 'co2' && sensor.endsWith(':battery'))
		return [{ from: null, to: BATTERY_LOW_PCT, level: 'alert', label: 'low' }];
	return [];
}
