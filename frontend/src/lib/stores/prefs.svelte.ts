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
		}
	}

	setTempUnit(unit: TempUnit): void {
		this.tempUnit = unit;
		this.storage?.setItem(UNIT_KEY, unit);
	}
}
