// Contrast of the theme's text colours on its backgrounds, in both themes (WCAG AA: 4.5:1 for
// text). Reads the custom properties from app.css, so a colour change that breaks it fails here.
import { describe, expect, test } from 'vitest';
import css from './app.css?raw';

function block(selector: string): Record<string, string> {
	const start = css.indexOf(selector);
	const body = css.slice(css.indexOf('{', start) + 1, css.indexOf('}', start));
	return Object.fromEntries([...body.matchAll(/--([\w-]+):\s*(#[0-9a-f]{6})/gi)].map((m) => [m[1]!, m[2]!]));
}

function luminance(hex: string): number {
	const [r, g, b] = [1, 3, 5].map((i) => {
		const c = parseInt(hex.slice(i, i + 2), 16) / 255;
		return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
	});
	return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
}

function contrast(a: string, b: string): number {
	const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
	return (hi! + 0.05) / (lo! + 0.05);
}

const themes = {
	dark: block(':root {'),
	light: block(":root[data-theme='light']")
};

describe.each(Object.entries(themes))('%s theme', (_name, t) => {
	test('has every colour', () => {
		for (const k of ['bg', 'card', 'card-2', 'text', 'muted', 'accent', 'good', 'warn', 'alert', 'off'])
			expect(t[k], k).toMatch(/^#/);
	});

	test.each(['text', 'muted', 'accent', 'good', 'warn', 'alert', 'off'])('%s text is readable on every background', (fg) => {
		for (const bg of ['bg', 'card', 'card-2']) {
			expect(contrast(t[fg]!, t[bg]!), `${fg} on ${bg}`).toBeGreaterThanOrEqual(4.5);
		}
	});

	test('the primary button’s text on the accent', () => {
		expect(contrast(t['accent-text']!, t.accent!)).toBeGreaterThanOrEqual(4.5);
	});
});

test('the system light theme matches the chosen light theme', () => {
	const system = block(":root:not([data-theme='dark'])");
	expect(system).toEqual(themes.light);
});

test('the bar colour (theme-color) is the header’s in each theme, in app.html and for a picked theme', async () => {
	const { THEME_COLORS, applyThemeColor } = await import('$lib/stores/prefs.svelte');
	const html = (await import('./app.html?raw')).default as string;
	expect(THEME_COLORS.dark).toBe(themes.dark.card);
	expect(THEME_COLORS.light).toBe(themes.light.card);
	const metas = [...html.matchAll(/<meta name="theme-color" media="\(prefers-color-scheme: (\w+)\)" content="(#\w+)"/g)];
	expect(Object.fromEntries(metas.map((m) => [m[1], m[2]]))).toEqual(THEME_COLORS);
	// The inline script that applies a saved theme before the first paint says the same colours.
	expect(html).toContain(`t === 'dark' ? '${THEME_COLORS.dark}' : '${THEME_COLORS.light}'`);

	const doc = document.implementation.createHTMLDocument();
	doc.head.innerHTML = metas.map((m) => m[0] + '>').join('');
	const contents = () => [...doc.querySelectorAll('meta')].map((m) => m.content);
	applyThemeColor('light', doc);
	expect(contents()).toEqual([THEME_COLORS.light, THEME_COLORS.light]);
	applyThemeColor('system', doc);
	expect(contents()).toEqual([THEME_COLORS.dark, THEME_COLORS.light]);
});
