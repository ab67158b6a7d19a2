// The viewer's preferences, kept in this browser: theme and temperature unit.
import type { TempUnit } from '$lib/util/format';

export type Theme = 'system' | 'dark' | 'light';

const THEME_KEY = 'sense-pulse:theme';
const UNIT_KEY = 'sense-pulse:temp-unit';

interface StorageLike {
	getItem(key: string): string | null;
	setItem(key: string, value: string): void;
}

function safeStorage(): StorageLike | null {
	try {
		return typeof localStorage === 'undefined' ? null : localStorage;
	} catch {
		return null;
	}
}

/** The browser's and the installed app's bar colour in each theme: the header's (`--card` in
 *  app.css; app.html's `theme-color` metas and its inline script say the same). */
export const THEME_COLORS = { dark: '#1e293b', light: '#ffffff' } as const;

/** Points the `theme-color` metas at `theme`'s colour, or back at the system's (each meta's
 *  `media`). */
export function applyThemeColor(theme: Theme, doc: Document | undefined = globalThis.document): void {
	for (const meta of doc?.querySelectorAll<HTMLMetaElement>('meta[name="theme-color"]') ?? []) {
		const own = (meta.getAttribute('media') ?? '').includes('light') ? THEME_COLORS.light : THEME_COLORS.dark;
		meta.content = theme === 'system' ? own : THEME_COLORS[theme];
	}
}

export class PrefsStore {
	theme = $state<Theme>('system');
	tempUnit = $state<TempUnit>('C');

	constructor(private readonly storage: StorageLike | null = safeStorage()) {
		const t = storage?.getItem(THEME_KEY);
		if (t === 'dark' || t === 'light') this.theme = t;
		if (storage?.getItem(UNIT_KEY) === 'F') this.tempUnit = 'F';
	}

	setTheme(theme: Theme): void {
		this.theme = theme;
		this.storage?.setItem(THEME_KEY, theme);
		if (typeof document !== 'undefined') {
			if (theme === 'system') delete document.documentElement.dataset.theme;
			else document.documentElement.dataset.theme = theme;
			applyThemeColor(theme);
		}
	}

	setTempUnit(unit: TempUnit): void {
		this.tempUnit = unit;
		this.storage?.setItem(UNIT_KEY, unit);
	}
}
