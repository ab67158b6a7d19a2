import { describe, expect, test } from 'vitest';
import type { LinkHealth, Sources, Status } from '$lib/api/types';
import { clock } from './format';
import { countText, missingText, outcomeBadge, outcomeOf, problems, sourceName, when } from './problems';

const now = 1_796_536_800;
const status = (extra: Partial<Status> = {}): Status => ({
	source_id: 'x',
	last_poll: now,
	last_success: now,
	last_error: null,
	poll_count: 9,
	error_count: 0,
	...extra
});
const view = (s: Status | null) => ({ readings: {}, status: s });
const garage = {
	name: 'garage',
	error: 'garage (D4:7B:0C:4A:11:03) not heard within 10 s (out of range, or its battery is flat?)',
	since: now - 540,
	last_seen: null
};

describe('outcome', () => {
	test('said by the status, else read from last_error (upstream statuses)', () => {
		expect(outcomeOf(null)).toBeNull();
		expect(outcomeOf(status())).toBe('ok');
		expect(outcomeOf(status({ last_error: 'boom' }))).toBe('failed');
		expect(outcomeOf(status({ last_error: 'garage not heard', outcome: 'partial' }))).toBe('partial');
		expect(outcomeOf(status({ outcome: 'ok' }))).toBe('ok');
	});

	test('partial is amber, failed red, ok no badge', () => {
		expect(outcomeBadge(status())).toBeNull();
		expect(outcomeBadge(status({ last_error: 'x', outcome: 'partial' }))).toEqual({ level: 'warn', label: 'partial' });
		expect(outcomeBadge(status({ last_error: 'x' }))).toEqual({ level: 'alert', label: 'failing' });
	});
});

describe('since when', () => {
	test('a clock time today, a date before', () => {
		expect(when(now - 60, now)).toBe(clock(now - 60));
		expect(when(now - 3 * 86400, now)).toMatch(new RegExp(`^\\d{1,2} \\w{3} ${clock(now - 3 * 86400)}$`));
	});

	test('a monitor never heard, and one heard before', () => {
		expect(missingText(garage, now)).toBe(`not heard since ${clock(garage.since)} (9 min ago); never heard before`);
		expect(missingText({ ...garage, last_seen: now - 600 }, now)).toBe(
			`not heard since ${clock(garage.since)} (9 min ago); last heard ${clock(now - 600)}`
		);
	});
});

describe('problems', () => {
	test('none when every source is fine: no false alarm', () => {
		const sources: Sources = {
			system: view(status()),
			co2: view(status({ outcome: 'ok' })),
			orchestrator: view(status()),
			network_camera: view(null)
		};
		expect(problems(sources, { state: 'up', since: now - 600 }, now)).toEqual([]);
	});

	test('each monitor a partial poll missed, a failed source, the bus down: worst first', () => {
		const sources: Sources = {
			co2: view(status({ last_error: garage.error, outcome: 'partial', missing: [garage] })),
			weather: view(status({ last_error: 'wttr.in answered 503', outcome: 'failed' })),
			system: view(status())
		};
		const list = problems(sources, { state: 'down', since: now - 60 }, now);
		expect(list.map((p) => [p.level, p.text])).toEqual([
			['alert', `Data bus unreachable since ${clock(now - 60)}: values are frozen`],
			['alert', 'Weather: wttr.in answered 503'],
			['warn', `Aranet4 garage not heard since ${clock(garage.since)} (9 min ago); never heard before`]
		]);
		expect(countText(list.length)).toBe('3 problems');
		expect(countText(1)).toBe('1 problem');
	});

	test('a partial poll without named parts is one problem', () => {
		const list = problems({ sensors: view(status({ last_error: 'LPS25H: no answer', outcome: 'partial' })) }, null, now);
		expect(list.map((p) => p.text)).toEqual(['Sense HAT: LPS25H: no answer']);
	});

	test('an overdue source is counted once, with its failure or alone', () => {
		const sources: Sources = {
			weather: view(status({ last_error: 'wttr.in answered 503' })),
			pihole: view(status()),
			orchestrator: view(status({ last_error: 'overdue: weather, pihole' }))
		};
		expect(problems(sources, null, now).map((p) => p.text)).toEqual([
			'Weather: wttr.in answered 503',
			'Pi-hole: no successful poll for 3 intervals'
		]);
	});
});

describe('microcontroller nodes', () => {
	const link = (extra: Partial<LinkHealth> = {}): LinkHealth => ({
		port: '/dev/ttyACM0',
		connected: true,
		since: now - 3600,
		last_frame: now - 2,
		frames: 1800,
		bad_frames: 0,
		restarts: 0,
		firmware: '0.1.0',
		protocol: '1.0',
		measures: ['temperature', 'humidity', 'pressure'],
		led_matrix: true,
		...extra
	});
	const lostError = `the node's link on /dev/ttyACM0 is lost since ${clock(now - 120, true)} (unplugged, or reset?)`;

	test('named by their node name', () => {
		expect(sourceName('node-pico-e661')).toBe('Pico node pico-e661');
		expect(sourceName('sensors')).toBe('Sense HAT');
		expect(sourceName('something_else')).toBe('something_else');
	});

	test('a node whose link is lost is a problem, red, named; a connected one is none', () => {
		const sources: Sources = {
			'node-pico-e661': view(status({ source_id: 'node-pico-e661', last_error: lostError, outcome: 'failed', link: link({ connected: false, since: now - 120 }) })),
			'node-pico-beef': view(status({ source_id: 'node-pico-beef', outcome: 'ok', link: link() })),
			system: view(status())
		};
		const list = problems(sources, { state: 'up', since: now - 600 }, now);
		expect(list.map((p) => [p.source, p.level, p.text])).toEqual([
			['node-pico-e661', 'alert', `Pico node pico-e661: ${lostError}`]
		]);
		expect(outcomeBadge(sources['node-pico-e661']!.status)).toEqual({ level: 'alert', label: 'failing' });
		expect(outcomeBadge(sources['node-pico-beef']!.status)).toBeNull();
	});

	test('a sensor the node reports failing is amber, naming it', () => {
		const sources: Sources = {
			'node-pico-e661': view(status({ last_error: 'LPS25H: no answer', outcome: 'partial', link: link() }))
		};
		expect(problems(sources, null, now).map((p) => [p.level, p.text])).toEqual([
			['warn', 'Pico node pico-e661: LPS25H: no answer']
		]);
	});

	test('a link that is down is a failure even if the status says ok, and is said in words', () => {
		const down = status({ outcome: 'ok', link: link({ connected: false, since: now - 300 }) });
		expect(outcomeOf(down)).toBe('failed');
		expect(problems({ 'node-pico-e661': view(down) }, null, now).map((p) => p.text)).toEqual([
			`Pico node pico-e661: Link lost since ${clock(now - 300)} (5 min ago): nothing from the node on /dev/ttyACM0 (unplugged, or reset?); the values are the last received`
		]);
	});
});
