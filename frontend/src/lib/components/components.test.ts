import { createRawSnippet, flushSync, mount, tick, unmount, type Component } from 'svelte';
import { afterEach, describe, expect, test, vi } from 'vitest';
import type { LinkHealth, SourceView } from '$lib/api/types';
import * as specs from '$lib/settings';
import type { SaveResult } from '$lib/stores/config.svelte';
import Aranet4Card from './Aranet4Card.svelte';
import Aranet4Settings from './Aranet4Settings.svelte';
import Card from './Card.svelte';
import LedMatrix from './LedMatrix.svelte';
import Login from './Login.svelte';
import SectionForm from './SectionForm.svelte';
import { clock, config, session, sources } from '$lib/app.svelte';
import { clock as clockTime } from '$lib/util/format';
import ConnectionStatus from './ConnectionStatus.svelte';
import FrozenBanner from './FrozenBanner.svelte';
import NodeCard from './NodeCard.svelte';

const body = createRawSnippet(() => ({ render: () => '<p class="content">values</p>' }));
let target: HTMLElement;
let component: ReturnType<typeof mount> | null = null;

afterEach(() => {
	if (component) unmount(component);
	component = null;
	target?.remove();
});

function render<P extends Record<string, any>>(C: Component<P>, props: P) {
	target = document.createElement('div');
	document.body.append(target);
	component = mount(C, { target, props });
	flushSync();
	return target;
}

const now = Date.now() / 1000;
// The app's clock says the same time as the tests (it was set when the app module loaded, which
// may be a second or more earlier while the test modules are still being transformed).
clock.now = now;
const status = { source_id: 's', last_poll: now, last_success: now, last_error: null, poll_count: 1, error_count: 0 };

describe('Card', () => {
	test('an available source shows its values', () => {
		const source: SourceView = { readings: { a: { value: 1, unit: null, timestamp: now } }, status };
		const el = render(Card, { id: 't', title: 'T', source, interval: 30, children: body });
		expect(el.querySelector('[data-availability]')!.getAttribute('data-availability')).toBe('available');
		expect(el.querySelector('.content')).not.toBeNull();
	});

	test('an expired status is unavailable and shows no values', () => {
		const source: SourceView = { readings: { a: { value: 1, unit: null, timestamp: now } }, status: null };
		const el = render(Card, { id: 't', title: 'T', source, interval: 30, children: body });
		expect(el.querySelector('[data-availability]')!.getAttribute('data-availability')).toBe('unavailable');
		expect(el.querySelector('.content')).toBeNull();
		expect(el.textContent).toMatch(/unavailable/i);
	});

	test('old readings are stale, still shown, with the source’s error', () => {
		const source: SourceView = {
			readings: { a: { value: 1, unit: null, timestamp: now - 3600 } },
			status: { ...status, last_error: 'wttr.in answered 503', stale: true }
		};
		const el = render(Card, { id: 't', title: 'T', source, interval: 300, children: body });
		expect(el.querySelector('[data-availability]')!.getAttribute('data-availability')).toBe('stale');
		expect(el.querySelector('.content')).not.toBeNull();
		expect(el.textContent).toContain('wttr.in answered 503');
	});

	test('a last poll that failed in part is amber, in whole red, never green', () => {
		const readings = { a: { value: 1, unit: null, timestamp: now } };
		const partial: SourceView = { readings, status: { ...status, last_error: 'LPS25H: no answer', outcome: 'partial' } };
		let el = render(Card, { id: 't', title: 'T', source: partial, interval: 30, children: body });
		const card = () => el.querySelector('[data-testid="card-t"]')!;
		expect(card().getAttribute('data-health')).toBe('warn');
		expect(card().querySelector('[data-testid="badge"]')!.textContent).toBe('partial');
		expect(el.textContent).toContain('LPS25H: no answer');
		unmount(component!);
		target.remove();

		const failed: SourceView = { readings, status: { ...status, last_error: 'reading /proc/stat: denied' } };
		el = render(Card, { id: 't', title: 'T', source: failed, interval: 30, children: body });
		expect(card().getAttribute('data-health')).toBe('alert');
		expect(card().querySelector('[data-testid="badge"]')!.textContent).toBe('failing');
		unmount(component!);
		target.remove();

		el = render(Card, { id: 't', title: 'T', source: { readings, status }, interval: 30, children: body });
		expect(card().getAttribute('data-health')).toBe('ok');
		expect(card().querySelector('[data-testid="badge"]')!.textContent).toBe('live');
	});
});

describe('Aranet4Card', () => {
	const reading = (value: number) => ({ value, unit: 'ppm', timestamp: now });
	const garage = {
		name: 'garage',
		error: 'garage (D4:7B:0C:4A:11:03) not heard within 10 s (out of range, or its battery is flat?)',
		since: Math.floor(now) - 540,
		last_seen: null
	};

	afterEach(() => {
		sources.sources = {};
	});

	test('a monitor not heard says so and since when; one heard stays green', () => {
		sources.sources = {
			co2: {
				readings: { 'office:co2': reading(620) },
				status: { ...status, source_id: 'co2', last_error: garage.error, outcome: 'partial', missing: [garage] }
			}
		};
		let el = render(Aranet4Card, { label: 'garage' });
		let card = el.querySelector('[data-testid="card-co2-garage"]')!;
		expect(card.getAttribute('data-health')).toBe('warn');
		expect(card.querySelector('[data-testid="badge"]')!.textContent).toBe('not heard');
		expect(card.textContent).toContain(`Not heard since ${clockTime(garage.since)} (9 min ago); never heard before.`);
		expect(card.textContent).toContain('out of range, or its battery is flat?');
		unmount(component!);
		target.remove();

		el = render(Aranet4Card, { label: 'office' });
		card = el.querySelector('[data-testid="card-co2-office"]')!;
		expect(card.getAttribute('data-health')).toBe('ok');
		expect(card.querySelector('[data-testid="badge"]')!.textContent).toBe('live');
		expect(card.textContent).not.toContain('garage');
	});

	test('a poll that failed as a whole is red on every monitor, with its cause', () => {
		sources.sources = {
			co2: {
				readings: { 'office:co2': reading(620) },
				status: { ...status, source_id: 'co2', last_error: 'Bluetooth scan failed: no adapter', outcome: 'failed' }
			}
		};
		const el = render(Aranet4Card, { label: 'office' });
		const card = el.querySelector('[data-testid="card-co2-office"]')!;
		expect(card.getAttribute('data-health')).toBe('alert');
		expect(card.querySelector('[data-testid="badge"]')!.textContent).toBe('failing');
		expect(card.textContent).toContain('Bluetooth scan failed: no adapter');
	});
});

describe('LedMatrix', () => {
	test('64 LEDs, lit ones counted, the wired view turned', () => {
		const pixels = Array.from({ length: 64 }, () => [0, 0, 0] as [number, number, number]);
		pixels[0] = [255, 0, 0];
		const el = render(LedMatrix, { pixels, rotation: 90, view: 'wired' });
		const leds = el.querySelectorAll('.led');
		expect(leds).toHaveLength(64);
		expect(el.querySelector('[data-lit]')!.getAttribute('data-lit')).toBe('1');
		expect(leds[56]!.classList.contains('off')).toBe(false);
		expect(leds[0]!.classList.contains('off')).toBe(true);
	});
});

describe('Login', () => {
	test('sign-in settings that are not in force are said above the form', () => {
		session.problem = 'config:auth is not valid JSON; nobody can sign in until it is fixed';
		const el = render(Login, {});
		const alert = el.querySelector('[role="alert"]');
		expect(alert?.textContent).toContain('config:auth is not valid JSON');
		session.problem = null;
		flushSync();
		expect(el.querySelector('[role="alert"]')).toBeNull();
	});
});

describe('Settings: a stored value that is not in use', () => {
	const display = { rotation: 0, show_icons: true, scroll_speed: 0.08, icon_duration: 1.5, cycle_interval: 60, low_light: false };
	const rotationProblem = 'config:display.rotation: must be one of 0, 90, 180, 270 (got 45); using 0';
	const warning = 'display.rotation: must be one of 0, 90, 180, 270 (got 45)';
	const originalSave = config.save;
	let calls: Array<[string, unknown]> = [];
	let saved: Promise<SaveResult> | null = null;

	function stubSave(result: SaveResult) {
		calls = [];
		config.save = ((section: string, patch: unknown) => {
			calls.push([section, patch]);
			saved = Promise.resolve(result);
			return saved;
		}) as typeof config.save;
	}

	afterEach(() => {
		config.save = originalSave;
		config.config = null;
	});

	test('is said next to its field, in words, and saving another field says it is still there', async () => {
		config.config = { display, _problems: [rotationProblem] } as never;
		const el = render(SectionForm as unknown as Component<{ spec: typeof specs.display }>, { spec: specs.display });
		const field = el.querySelector('[data-field="rotation"]')!;
		const message = field.querySelector('[data-testid="field-warning"]');
		expect(message?.textContent).toContain(
			'The stored value is not in use: “Rotation” must be one of 0, 90, 180, 270 (got 45); using 0. ' +
				'Saving a value here replaces it; saving other fields keeps it.'
		);
		// Read out with the select it belongs to.
		const select = field.querySelector('select')!;
		expect(select.getAttribute('aria-describedby')?.split(' ')).toContain(message!.id);
		expect(el.querySelectorAll('[data-testid="field-warning"]')).toHaveLength(1);

		// Another field is saved alone (the bad value is not overwritten behind the user's back);
		// the answer's warning is shown.
		stubSave({ ok: true, warnings: [warning] });
		const lowLight = el.querySelector<HTMLInputElement>('#display-low_light')!;
		lowLight.checked = true;
		lowLight.dispatchEvent(new Event('change', { bubbles: true }));
		flushSync();
		el.querySelector('form')!.dispatchEvent(new Event('submit', { bubbles: true, cancelable: true }));
		await saved;
		await tick();
		expect(calls).toEqual([['display', { low_light: true }]]);
		const status = el.querySelector('[data-testid="save-status"]')!;
		expect(status.textContent).toContain(
			'Saved. Still stored and not in use until fixed: LED display: “Rotation” must be one of 0, 90, 180, 270 (got 45)'
		);
		expect(status.classList.contains('warn-text')).toBe(true);

		// The store reloads after a save: the bad value is still stored, and still named.
		config.config = { display: { ...display, low_light: true }, _problems: [rotationProblem] } as never;
		flushSync();
		expect(field.querySelector('[data-testid="field-warning"]')).not.toBeNull();

		// The value shown (0°) can be saved in its place, though choosing it changes nothing.
		stubSave({ ok: true, warnings: [] });
		const fix = field.querySelector<HTMLButtonElement>('[data-testid="field-fix"]')!;
		expect(fix.textContent).toBe('Save 0° in its place');
		fix.click();
		await saved;
		await tick();
		expect(calls).toEqual([['display', { rotation: 0 }]]);
		expect(el.querySelector('[data-testid="save-status"]')!.textContent).toBe('Saved.');

		// Once fixed (the reloaded config names no problem) the message is gone.
		config.config = { display, _problems: [] } as never;
		flushSync();
		expect(el.querySelector('[data-testid="field-warning"]')).toBeNull();
	});

	test('a bad entry of a stored list is named in the list’s section', () => {
		config.config = {
			aranet4: { sensors: [], timeout: 10 },
			_problems: ['config:aranet4.sensors[1].mac: must be a Bluetooth address like AA:BB:CC:DD:EE:FF (got "nope"); using []']
		} as never;
		const el = render(Aranet4Settings, {});
		const message = el.querySelector('[data-testid="field-warning"][data-field="sensors"]');
		expect(message?.textContent).toContain('A stored value is not in use: “Bluetooth address” of monitor 2 must be a Bluetooth address');
		expect(message?.textContent).toContain('saving “Monitors” replaces the stored value; saving other fields keeps it.');
	});
});

describe('ConnectionStatus', () => {
	const message = (bus: object) =>
		JSON.stringify({ type: 'sources', full: true, bus, sources: {}, removed: [] });

	afterEach(() => {
		sources.state = 'idle';
		sources.bus = null;
		sources.lost = false;
	});

	test('live while the socket is open and the bus up; frozen, not live, while the bus is down', () => {
		sources.state = 'open';
		sources.receive(message({ state: 'up', since: now - 600 }));
		const el = render(ConnectionStatus, {});
		const status = el.querySelector('[data-testid="connection"]')!;
		expect(status.getAttribute('data-bus')).toBe('up');
		expect(status.textContent).toContain('Live');

		const since = Math.floor(now) - 120;
		sources.receive(message({ state: 'down', since, error: 'Connection refused (os error 111)' }));
		flushSync();
		expect(status.getAttribute('data-bus')).toBe('down');
		expect(status.textContent).not.toContain('Live');
		expect(status.textContent).toContain('Frozen');
		expect(status.getAttribute('title')).toContain(`the data bus is unreachable; values frozen since ${clockTime(since)}`);
		expect(status.getAttribute('title')).toContain('Connection refused (os error 111)');

		// The connection itself is lost: frozen too, and the title says the server is unreachable.
		sources.state = 'closed';
		sources.lost = true;
		flushSync();
		expect(status.textContent).toContain('Frozen');
		expect(status.getAttribute('title')).toContain("the dashboard's server is unreachable");

		sources.state = 'open';
		sources.receive(message({ state: 'up', since: now }));
		flushSync();
		expect(status.textContent).toContain('Live');
	});
});

describe('frozen data', () => {
	const message = (bus: object, all: Record<string, SourceView> = {}) =>
		JSON.stringify({ type: 'sources', full: true, bus, sources: all, removed: [] });
	const view: SourceView = {
		readings: { cpu_percent: { value: 12, unit: '%', timestamp: now - 5 } },
		status
	};

	afterEach(() => {
		sources.state = 'idle';
		sources.bus = null;
		sources.lost = false;
		sources.sources = {};
	});

	test('the banner says in plain words what is unreachable and since when; empty while live', () => {
		const el = render(FrozenBanner, {});
		const banner = el.querySelector('[data-testid="frozen-banner"]')!;
		expect(banner.getAttribute('role')).toBe('alert');
		sources.receive(message({ state: 'up', since: now - 600 }));
		flushSync();
		expect(banner.textContent?.trim()).toBe('');

		const since = Math.floor(now) - 90;
		sources.receive(message({ state: 'down', since, error: 'Connection refused' }));
		flushSync();
		expect(banner.textContent).toContain(`Data frozen since ${clockTime(since)} — the data bus is unreachable.`);

		sources.lost = true;
		sources.state = 'closed';
		flushSync();
		expect(banner.textContent).toContain("the dashboard's server is unreachable.");
		expect(banner.getAttribute('data-cause')).toBe('gateway');

		sources.receive(message({ state: 'up', since: now }));
		flushSync();
		expect(banner.textContent?.trim()).toBe('');
	});

	test('a card keeps its values marked frozen; one with no data blames no source', () => {
		sources.receive(message({ state: 'down', since: now - 60 }, { system: view }));
		const el = render(Card, { id: 'system', title: 'System', source: view, interval: 30, children: body });
		const card = el.querySelector('[data-testid="card-system"]')!;
		expect(card.getAttribute('data-availability')).toBe('frozen');
		expect(card.querySelector('[data-testid="badge"]')?.textContent).toBe('frozen');
		expect(card.querySelector('.content')?.textContent).toBe('values');
		expect(card.textContent).not.toContain('unavailable');
	});

	test('a card without data while frozen says why, not that its source is unavailable', () => {
		sources.receive(message({ state: 'down', since: now - 60 }));
		const el = render(Card, { id: 'weather', title: 'Weather', source: undefined, interval: 300, children: body });
		const card = el.querySelector('[data-testid="card-weather"]')!;
		expect(card.getAttribute('data-availability')).toBe('frozen');
		expect(card.textContent).toContain('Waiting for the data bus: it is unreachable');
		expect(card.textContent).not.toMatch(/unavailable/i);
	});

	test('while frozen, a card keeps its own reason for having no values (not the generic blame)', () => {
		sources.receive(message({ state: 'down', since: now - 60 }));
		const el = render(Card, {
			id: 'co2-garage',
			title: 'CO₂ · garage',
			source: { readings: {}, status },
			availabilityOverride: 'unavailable',
			unavailableText: 'Not heard since 06:47.',
			children: body
		});
		const card = el.querySelector('[data-testid="card-co2-garage"]')!;
		expect(card.getAttribute('data-availability')).toBe('frozen');
		expect(card.textContent).toContain('Not heard since 06:47.');
	});

	test('a source in its first poll is waiting for it, not unavailable', () => {
		const never = { ...status, last_poll: null, last_success: null, poll_count: 0 };
		const el = render(Card, {
			id: 'co2-office',
			title: 'CO₂',
			source: { readings: {}, status: never },
			interval: 60,
			// As the Aranet4 card says of a monitor not heard in the last poll.
			availabilityOverride: 'unavailable',
			children: body
		});
		const card = el.querySelector('[data-testid="card-co2-office"]')!;
		expect(card.getAttribute('data-availability')).toBe('waiting');
		expect(card.textContent).toContain('Waiting for the first poll.');
		expect(card.textContent).not.toMatch(/unavailable/i);
	});

	test('switched off is off: its body shown, not unavailable', () => {
		const el = render(Card, { id: 'camera', title: 'Camera', source: undefined, availabilityOverride: 'off', children: body });
		const card = el.querySelector('[data-testid="card-camera"]')!;
		expect(card.getAttribute('data-availability')).toBe('off');
		expect(card.querySelector('[data-testid="badge"]')?.textContent).toBe('off');
		expect(card.querySelector('.content')).not.toBeNull();
	});
});

describe('NodeCard', () => {
	const id = 'node-pico-e661';
	const link: LinkHealth = {
		port: '/dev/ttyACM0',
		connected: true,
		since: Math.floor(now) - 3600,
		last_frame: now - 1,
		frames: 1234,
		bad_frames: 0,
		restarts: 0,
		firmware: '0.1.0',
		protocol: '1.0',
		measures: ['temperature', 'humidity', 'pressure'],
		led_matrix: false
	};
	const readings = {
		temperature: { value: 21.4, unit: 'C', timestamp: now - 1 },
		humidity: { value: 48.2, unit: '%', timestamp: now - 1 },
		pressure: { value: 1013.2, unit: 'mbar', timestamp: now - 1 }
	};
	const node = (l: Partial<LinkHealth> = {}, extra: object = {}): SourceView => ({
		readings,
		status: { ...status, source_id: id, link: { ...link, ...l }, ...extra }
	});
	const card = (el: HTMLElement) => el.querySelector<HTMLElement>(`[data-testid="card-${id}"]`)!;
	const row = (el: HTMLElement, sensor: string) => card(el).querySelector<HTMLElement>(`[data-sensor="${sensor}"]`);

	afterEach(() => {
		sources.sources = {};
		vi.unstubAllGlobals();
	});

	test('shows its readings, named, and the link it is on', () => {
		sources.sources = { [id]: node() };
		const el = render(NodeCard, { id });
		expect(card(el).querySelector('h2')!.textContent).toBe('Pico node · pico-e661');
		expect(card(el).getAttribute('data-health')).toBe('ok');
		expect(card(el).querySelector('[data-testid="badge"]')!.textContent).toBe('live');
		expect(row(el, 'temperature')!.textContent).toContain('Temperature');
		expect(row(el, 'temperature')!.textContent).toContain('21.4°C');
		expect(row(el, 'humidity')!.textContent).toContain('48.2%');
		expect(row(el, 'pressure')!.textContent).toContain('1,013hPa');
		expect(card(el).querySelector('[data-testid="link"]')!.textContent!.trim()).toBe(
			'USB serial /dev/ttyACM0 · firmware 0.1.0 · protocol 1.0'
		);
		expect(card(el).textContent).not.toMatch(/lost|damaged|restarted/);
		// No LED matrix: no form to show text on one.
		expect(card(el).querySelector('form')).toBeNull();
	});

	test('a sensor it measures but has not sent yet is a row saying so; one it does not measure is absent', () => {
		sources.sources = {
			[id]: { readings: { temperature: readings.temperature }, status: node({ measures: ['temperature', 'humidity'] }).status }
		};
		const el = render(NodeCard, { id });
		expect(row(el, 'temperature')).not.toBeNull();
		expect(row(el, 'humidity')!.textContent).toContain('no data');
		expect(row(el, 'pressure')).toBeNull();
	});

	test('damaged frames and restarts are said when there were any', () => {
		sources.sources = { [id]: node({ bad_frames: 3, restarts: 1 }) };
		const el = render(NodeCard, { id });
		expect(card(el).querySelector('[data-testid="link"]')!.textContent).toContain(
			'USB serial /dev/ttyACM0 · firmware 0.1.0 · protocol 1.0 · 3 damaged frames skipped · restarted 1 time'
		);
	});

	test('a lost link says so in words with since when, keeps the last values marked, and is red', () => {
		const since = Math.floor(now) - 180;
		const error = `the node's link on /dev/ttyACM0 is lost since ${clockTime(since, true)} (unplugged, or reset?)`;
		sources.sources = { [id]: node({ connected: false, since }, { last_error: error, outcome: 'failed' }) };
		const el = render(NodeCard, { id });
		const lost = card(el).querySelector('[data-testid="link-lost"]')!;
		// Since when here; why once, in the source's own words (the card's last error).
		expect(lost.textContent).toBe(`Link lost since ${clockTime(since)} (3 min ago); the values are the last received.`);
		// The last values stay, the card marked stale and red, never green.
		expect(row(el, 'temperature')!.textContent).toContain('21.4°C');
		expect(card(el).getAttribute('data-availability')).toBe('stale');
		expect(card(el).getAttribute('data-health')).toBe('alert');
		expect(card(el).querySelector('[data-testid="badge"]')!.textContent).toBe('failing');
		expect(card(el).textContent).toContain(error);
		expect(card(el).textContent!.split('unplugged').length - 1, 'the cause is said once').toBe(1);
	});

	test('the LED matrix form shows a text on this node and clears it, saying the answer', async () => {
		const sent: Array<{ url: string; body: unknown }> = [];
		let answer: { status: number; body: object } = { status: 200, body: { success: true, message: 'showing “Hi”', error: null } };
		vi.stubGlobal(
			'fetch',
			vi.fn(async (url: string, init: RequestInit = {}) => {
				if (!String(url).startsWith('/api/command/')) return new Response('{}', { status: 404 });
				sent.push({ url: String(url), body: JSON.parse(String(init.body)) });
				return new Response(JSON.stringify(answer.body), { status: answer.status });
			})
		);
		sources.sources = { [id]: node({ led_matrix: true }) };
		const el = render(NodeCard, { id });
		const input = card(el).querySelector<HTMLInputElement>('input[type="text"], input:not([type])')!;
		// Labelled in words.
		expect(input.labels?.[0]?.textContent).toBe("Show on the node's LED matrix");
		input.value = 'Hi';
		input.dispatchEvent(new Event('input', { bubbles: true }));
		flushSync();
		card(el).querySelector('form')!.dispatchEvent(new Event('submit', { bubbles: true, cancelable: true }));
		const result = () => card(el).querySelector('[data-testid="node-led-result"]');
		await vi.waitFor(() => expect(result()).not.toBeNull());
		expect(sent).toEqual([{ url: `/api/command/${id}`, body: { action: 'show_text', params: { text: 'Hi' } } }]);
		expect(result()!.textContent).toBe('showing “Hi”');
		expect(result()!.classList.contains('error-text')).toBe(false);

		// A refusal is said as an error.
		const nobody = 'no service is listening for `node-pico-e661` commands (is it running?)';
		answer = { status: 503, body: { success: false, message: nobody, error: nobody } };
		card(el).querySelector<HTMLButtonElement>('[data-testid="node-led-clear"]')!.click();
		await vi.waitFor(() => expect(result()?.classList.contains('error-text')).toBe(true));
		expect(sent[1]).toEqual({ url: `/api/command/${id}`, body: { action: 'clear', params: {} } });
		expect(result()!.textContent).toBe(nobody);

		// The node answered, but refused: an error too.
		answer = { status: 200, body: { success: false, message: 'text longer than 64 bytes', error: 'text longer than 64 bytes' } };
		card(el).querySelector('form')!.dispatchEvent(new Event('submit', { bubbles: true, cancelable: true }));
		await vi.waitFor(() => expect(result()?.textContent).toBe('text longer than 64 bytes'));
		expect(result()!.classList.contains('error-text')).toBe(true);
	});
});
