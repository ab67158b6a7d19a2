// Settings → Alerts against a stubbed gateway (`fetch`): what the rules editor sends, where the
// gateway's refusals land; and how the alert channels' health reads.
import { flushSync, mount, tick, unmount, type Component } from 'svelte';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { channel, sourceDownFixture } from '$lib/api/alerts.fixture';
import type { AlertsConfig } from '$lib/api/types';
import { alerts, clock, config, sources } from '$lib/app.svelte';
import { describe as describeField, fieldName, slug, withRuleIds } from '$lib/settings';
import { alertCondition, alertValue, channelDetails } from '$lib/util/alerts';
import AlertChannels from './AlertChannels.svelte';
import AlertsBanner from './AlertsBanner.svelte';
import AlertsSettings from './AlertsSettings.svelte';

const now = Math.floor(Date.now() / 1000);
clock.now = now;

let target: HTMLElement;
let component: ReturnType<typeof mount> | null = null;
function render(C: Component<any>, props: Record<string, unknown> = {}) {
	target = document.createElement('div');
	document.body.append(target);
	component = mount(C, { target, props });
	flushSync();
	return target;
}

const stored = (): AlertsConfig => ({
	enabled: true,
	rules: [
		{ id: 'co2-high', name: 'CO₂ high', source: 'co2', sensor: '*:co2', condition: 'above', threshold: 1400, for_s: 300, hysteresis: 100, enabled: true },
		{ id: 'cpu-hot', name: 'CPU hot', source: 'system', sensor: 'cpu_temp', condition: 'above', threshold: 80, for_s: 60, hysteresis: 5, enabled: true }
	],
	source_down: { enabled: true, minutes: 10 },
	bus_down: { enabled: true, seconds: 60 },
	ntfy: { enabled: false, url: 'https://ntfy.sh', topic: '', token: '********' },
	webhook: { enabled: false, url: '' }
});

/** The gateway: `POST /api/config` answers `answer()` (and records the body); `GET /api/config`
 *  the stored config; anything else 404. */
let posts: unknown[] = [];
let answer: () => { status: number; body: unknown } = () => ({ status: 200, body: { warnings: [] } });
const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

beforeEach(() => {
	posts = [];
	answer = () => ({ status: 200, body: { warnings: [] } });
	config.config = { alerts: stored(), _revisions: { alerts: 'r1' } } as never;
	vi.stubGlobal('fetch', async (url: string, init: RequestInit = {}) => {
		if (url.endsWith('/api/config') && init.method === 'POST') {
			posts.push(JSON.parse(String(init.body)));
			const a = answer();
			return json(a.status, a.body);
		}
		if (url.endsWith('/api/config')) return json(200, config.config);
		return json(404, { error: 'not here' });
	});
});

afterEach(() => {
	if (component) unmount(component);
	component = null;
	target?.remove();
	vi.unstubAllGlobals();
	config.config = null;
	config.refusals = {};
	sources.sources = {};
	alerts.clear();
});

const $ = <E extends Element = HTMLInputElement>(el: Element, sel: string) => el.querySelector<E>(sel)!;
function type(input: HTMLInputElement, value: string) {
	input.value = value;
	input.dispatchEvent(new Event('input', { bubbles: true }));
	flushSync();
}
function choose(select: HTMLSelectElement, value: string) {
	select.value = value;
	select.dispatchEvent(new Event('change', { bubbles: true }));
	flushSync();
}
function check(box: HTMLInputElement, on: boolean) {
	box.checked = on;
	box.dispatchEvent(new Event('change', { bubbles: true }));
	flushSync();
}
/** Submits the section and waits for its answer (and the reload after it). */
async function save(el: Element) {
	$<HTMLFormElement>(el, 'form[data-section="alerts"]').dispatchEvent(new Event('submit', { bubbles: true, cancelable: true }));
	await vi.waitFor(() => expect(config.saving).toBeNull());
	await tick();
	flushSync();
}
const field = (i: number, f: string) => `[data-field="rules[${i}].${f}"]`;

describe('Settings → Alerts: the rules editor', () => {
	test('add, remove and edit rules: the POST sends the whole list, new rules with an id from their name', async () => {
		sources.sources = { system: { readings: { cpu_temp: { value: 52, unit: 'C', timestamp: now } }, status: null } } as never;
		const el = render(AlertsSettings);
		expect(el.querySelectorAll('[data-testid="alert-rule"]')).toHaveLength(2);
		expect(el.querySelector('[data-testid="save-status"]')).toBeNull();

		// Edit the second: threshold 85.
		type($(el, field(1, 'threshold')), '85');
		// Remove the first.
		$<HTMLButtonElement>(el, '[data-rule="co2-high"] button.danger').click();
		flushSync();
		// Add one: below 1 °C, held 2 minutes.
		$<HTMLButtonElement>(el, '[data-testid="alert-rule-add"]').click();
		flushSync();
		expect(el.querySelectorAll('[data-testid="alert-rule"]')).toHaveLength(2);
		type($(el, field(1, 'name')), 'CPU cold');
		choose($(el, field(1, 'source')), 'system');
		type($(el, field(1, 'sensor')), 'cpu_temp');
		choose($(el, field(1, 'condition')), 'below');
		type($(el, field(1, 'threshold')), '1');
		type($(el, field(1, 'for_s')), '2');
		choose($(el, field(1, 'for_unit')), 'min');
		type($(el, field(1, 'hysteresis')), '0.5');
		// The unit of the readings watched is said with the threshold.
		expect(el.querySelectorAll('[data-testid="alert-rule"]')[1]!.textContent).toContain('Threshold (°C)');
		expect(el.querySelector('[data-testid="save-status"]')!.textContent).toBe('Changes not saved yet.');
		expect(config.unsaved.has('alerts')).toBe(true);

		await save(el);
		expect(posts).toEqual([
			{
				alerts: {
					rules: [
						{ id: 'cpu-hot', name: 'CPU hot', source: 'system', sensor: 'cpu_temp', condition: 'above', threshold: 85, for_s: 60, hysteresis: 5, enabled: true },
						{ id: 'cpu-cold', name: 'CPU cold', source: 'system', sensor: 'cpu_temp', condition: 'below', threshold: 1, for_s: 120, hysteresis: 0.5, enabled: true }
					]
				},
				_revisions: { alerts: 'r1' }
			}
		]);
		expect(el.querySelector('[data-testid="save-status"]')!.textContent).toBe('Saved.');
	});

	test('a node source is typed in; switching a rule off and the groups send only what changed', async () => {
		const el = render(AlertsSettings);
		choose($(el, field(0, 'source')), '__other');
		type($(el, field(0, 'source-text')), 'node-kitchen');
		check($(el, field(1, 'enabled')), false);
		check($(el, '#alerts-source_down-enabled'), false);
		type($(el, '#alerts-bus_down-seconds'), '120');
		await save(el);
		const sent = (posts[0] as { alerts: Partial<AlertsConfig> }).alerts;
		expect(Object.keys(sent).sort()).toEqual(['bus_down', 'rules', 'source_down']);
		expect(sent.rules!.map((r) => [r.id, r.source, r.enabled])).toEqual([
			['co2-high', 'node-kitchen', true],
			['cpu-hot', 'system', false]
		]);
		expect(sent.source_down).toEqual({ enabled: false, minutes: 10 });
		expect(sent.bus_down).toEqual({ enabled: true, seconds: 120 });
	});

	test('nothing changed: nothing is sent', async () => {
		const el = render(AlertsSettings);
		await save(el);
		expect(posts).toEqual([]);
		expect(el.querySelector('[data-testid="save-status"]')!.textContent).toBe('Nothing changed.');
	});
});

describe('Settings → Alerts: the gateway’s refusals land on their fields', () => {
	test('rules[1].hysteresis: said under that input only, with its label; fixing it clears it', async () => {
		answer = () => ({
			status: 400,
			body: { error: 'alerts.rules[1].hysteresis: must be 0 or more (got -1)', field: 'alerts.rules[1].hysteresis' }
		});
		const el = render(AlertsSettings);
		type($(el, field(1, 'hysteresis')), '-1');
		await save(el);
		const message = $<HTMLElement>(el, `[data-testid="field-error"]${field(1, 'hysteresis')}`);
		expect(message.textContent).toBe('“Hysteresis” of rule 2 must be 0 or more (got -1)');
		const input = $(el, `input${field(1, 'hysteresis')}`);
		expect(input.getAttribute('aria-invalid')).toBe('true');
		expect(input.getAttribute('aria-describedby')).toBe(message.id);
		expect($(el, `input${field(0, 'hysteresis')}`).getAttribute('aria-invalid')).toBeNull();
		expect($(el, `input${field(1, 'threshold')}`).getAttribute('aria-invalid')).toBeNull();
		expect(el.querySelectorAll('[data-testid="field-error"]')).toHaveLength(1);
		expect(el.querySelector('[data-testid="save-status"]')!.textContent).toBe('Not saved: “Hysteresis” of rule 2 must be 0 or more (got -1)');
		type($(el, field(1, 'hysteresis')), '2');
		expect(el.querySelector('[data-testid="field-error"]')).toBeNull();
		expect(el.querySelector('[data-testid="save-status"]')!.textContent).toBe('Changes not saved yet.');
	});

	test('an empty number in a rule says it needs a number', async () => {
		answer = () => ({ status: 400, body: { error: 'alerts.rules[0].threshold: must be a number (got "")', field: 'alerts.rules[0].threshold' } });
		const el = render(AlertsSettings);
		type($(el, field(0, 'threshold')), '');
		await save(el);
		expect((posts[0] as { alerts: AlertsConfig }).alerts.rules[0]!.threshold).toBe('');
		expect($(el, `[data-testid="field-error"]${field(0, 'threshold')}`).textContent).toBe('“Threshold” of rule 1 is empty: enter a number.');
	});

	test('ntfy.topic: said under the topic; the token goes back redacted (the stored one is kept)', async () => {
		answer = () => ({
			status: 400,
			body: { error: 'alerts.ntfy.topic: must be set to send alerts to ntfy: the topic your phone subscribes to', field: 'alerts.ntfy.topic' }
		});
		const el = render(AlertsSettings);
		expect($(el, '#alerts-ntfy-token').type).toBe('password');
		check($(el, '#alerts-ntfy-enabled'), true);
		await save(el);
		expect(posts).toEqual([
			{ alerts: { ntfy: { enabled: true, url: 'https://ntfy.sh', topic: '', token: '********' } }, _revisions: { alerts: 'r1' } }
		]);
		const message = $<HTMLElement>(el, '[data-field="ntfy.topic"] [data-testid="field-error"]');
		expect(message.textContent).toBe('“Topic” of ntfy must be set to send alerts to ntfy: the topic your phone subscribes to');
		expect($(el, '#alerts-ntfy-topic').getAttribute('aria-invalid')).toBe('true');
		expect($(el, '#alerts-ntfy-url').getAttribute('aria-invalid')).toBeNull();
		type($(el, '#alerts-ntfy-topic'), 'sense-pulse-home');
		expect(el.querySelector('[data-testid="field-error"]')).toBeNull();
	});
});

describe('settings.ts: alerts paths in words, rule ids', () => {
	test('nested and list paths name their field', () => {
		expect(fieldName('alerts', 'ntfy.topic')).toBe('“Topic” of ntfy');
		expect(fieldName('alerts', 'bus_down.seconds')).toBe('“After” of Data bus down');
		expect(fieldName('alerts', 'rules[2].for_s')).toBe('“For” of rule 3');
		expect(fieldName('alerts', 'rules[0]')).toBe('rule 1');
		expect(describeField('alerts', 'rules[1].id', 'alerts.rules[1].id: "cpu-hot" is already used by rules[0]')).toBe(
			'“Id” of rule 2: "cpu-hot" is already used by rule 1'
		);
	});

	test('new rules get an id from their name, unique; given ones are kept', () => {
		expect(slug('CO₂ high')).toBe('co2-high');
		expect(slug('  Über-warm!! ')).toBe('uber-warm');
		expect(slug('')).toBe('rule');
		const r = { source: 'system', sensor: 'x', condition: 'above' as const, threshold: 1, for_s: 0, hysteresis: 0, enabled: true };
		expect(withRuleIds([{ ...r, id: 'hot', name: 'A' }, { ...r, id: '', name: 'Hot' }, { ...r, id: '', name: 'Hot' }]).map((x) => x.id)).toEqual([
			'hot',
			'hot-2',
			'hot-3'
		]);
	});
});

describe('alert channels’ health', () => {
	test('off, ok, failing with the last error and when, pending and dropped', () => {
		const el = render(AlertChannels, {
			channels: {
				webhook: channel({ state: 'failing', last_error: 'connection refused', last_failure: now - 60, last_success: now - 3600, pending: 4, dropped: 1 }),
				ntfy: channel()
			}
		});
		const items = [...el.querySelectorAll('[data-testid="alert-channel"]')];
		expect(items.map((li) => li.getAttribute('data-channel'))).toEqual(['ntfy', 'webhook']);
		const parts = (li: Element) => [...li.children].map((n) => n.textContent!.trim());
		expect(parts(items[0]!)).toEqual(['ntfy', 'off', 'not sending (off in the settings, or a simulated run)']);
		expect(parts(items[1]!)).toEqual([
			'Webhook',
			'failing',
			'last sent 1 h ago',
			'failed 1 min ago: connection refused',
			'4 waiting',
			'1 dropped (too many waiting)'
		]);
		expect(items[1]!.querySelector('[data-testid="channel-state"]')!.classList.contains('alert')).toBe(true);
		expect(items[1]!.querySelector('.error-text')!.textContent).toContain('connection refused');
	});

	test('ok: when it last sent; no channels yet: says so', () => {
		expect(channelDetails(channel({ state: 'ok', last_success: now - 30 }), now)).toEqual(['last sent 30 s ago']);
		const el = render(AlertChannels, { channels: {} });
		expect(el.textContent).toContain('has not said how sending goes yet');
	});
});

describe('a source down (no value, no threshold)', () => {
	test('in words and in the banner', () => {
		const e = sourceDownFixture(now);
		expect(alertValue(e)).toBe('');
		expect(alertCondition(e)).toBe('source down');
		expect(alertCondition({ ...e, condition: 'bus_down' })).toBe('data bus down');
		expect(alertCondition({ ...e, condition: 'node_lost' })).toBe('no contact');
		alerts.data = { active: [e], history: [e], channels: {} };
		const el = render(AlertsBanner);
		const item = el.querySelector('[data-testid="active-alert"]')!;
		expect(item.textContent!.replace(/\s+/g, ' ').trim()).toMatch(/^Source down Weather source down since \d\d:\d\d$/);
		expect(item.getAttribute('data-sensor')).toBeNull();
	});
});
