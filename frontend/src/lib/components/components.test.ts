import { createRawSnippet, flushSync, mount, unmount, type Component } from 'svelte';
import { afterEach, describe, expect, test } from 'vitest';
import type { SourceView } from '$lib/api/types';
import Card from './Card.svelte';
import LedMatrix from './LedMatrix.svelte';
import Login from './Login.svelte';
import { session } from '$lib/app.svelte';

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
