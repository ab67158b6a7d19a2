// A room's own settings: a satellite Pi (`kitchen`) may set its own values of the sections whose
// hardware differs from Pi to Pi (docs/CONTRACT.md, "Several Pis"). The fields its override
// sets win; every other follows the shared section. Saving sends the fields set or changed for
// the room, and `null` for each the room goes back to following the shared value of.
import type { ConfigView, OverrideName, SectionName } from '$lib/api/types';
import type { FieldSpec } from '$lib/settings';

/** The sections the Settings page lets a room set its own values of, in the order shown. */
export const ROOM_SECTIONS = ['display', 'sleep', 'sensors', 'aranet4'] as const satisfies ReadonlyArray<SectionName>;

/** The lists a room may have its own of, each edited by its own editor in the room's form (the
 *  Aranet4 monitors: each Pi hears the monitors of its room). */
export const ROOM_LISTS = ['aranet4.sensors'] as const;
export type RoomList = (typeof ROOM_LISTS)[number];

/** A list in words: each entry by its name (`office, bedroom`), or `none`. */
export function shownList(value: unknown): string {
	if (!Array.isArray(value)) return shownValue({ key: '', label: '', kind: 'text' }, value);
	if (value.length === 0) return 'none';
	return value
		.map((entry) =>
			typeof entry === 'object' && entry !== null
				? String((entry as Record<string, unknown>).label ?? (entry as Record<string, unknown>).name ?? '?')
				: String(entry)
		)
		.join(', ');
}
export type RoomSection = (typeof ROOM_SECTIONS)[number];

/** `display@kitchen`: how the API names a node's override of a section. */
export const overrideName = (section: SectionName, node: string): OverrideName => `${section}@${node}`;

/** `display@kitchen` → `['display', 'kitchen']`; `display` → `['display', null]`. */
export function splitName(name: string): [string, string | null] {
	const at = name.indexOf('@');
	return at < 0 ? [name, null] : [name.slice(0, at), name.slice(at + 1)];
}

/** The fields a node's override of `section` sets (empty: it follows the shared section). */
export function ownFields(config: ConfigView | null | undefined, section: SectionName, node: string): Record<string, unknown> {
	return config?._overrides?.[overrideName(section, node)]?.fields ?? {};
}

/** The revision a save of the override sends back: an override not stored has the revision of
 *  a section not stored, `none` (so a save is refused if someone made one meanwhile). */
export function overrideRevision(config: ConfigView | null | undefined, name: string): string {
	return config?._overrides?.[name]?.revision ?? 'none';
}

/** A value in words, as its input shows it: `180°`, `22:00`, `on`. */
export function shownValue(spec: FieldSpec, value: unknown): string {
	if (spec.kind === 'select') return spec.options?.find((o) => o.value === value)?.label ?? String(value);
	if (spec.kind === 'bool') return value ? 'on' : 'off';
	if (Array.isArray(value)) return value.length ? value.join(', ') : 'an empty list';
	if (value === undefined || value === null) return 'not set';
	return value === '' ? 'an empty value' : String(value);
}

/** What a room's field shows: the value it runs with, whether that is the room's own, and the
 *  shared value it follows (or would follow once reset). */
export interface RoomValue {
	own: boolean;
	value: unknown;
	shared: unknown;
	/** "180°", or "As the shared setting: 0°". */
	text: string;
}

/** What the room `node` runs with for `spec`'s field of `section`: `own` is the form's draft of
 *  the room's own fields (the stored override, with the changes not saved yet). */
export function roomValue(config: ConfigView | null | undefined, section: SectionName, spec: FieldSpec, own: Record<string, unknown>): RoomValue {
	const show = (v: unknown) => (spec.kind === 'list' ? shownList(v) : shownValue(spec, v));
	const shared = sharedValue(config, section, spec.key);
	if (spec.key in own) {
		const value = own[spec.key];
		return { own: true, value, shared, text: show(value) };
	}
	return { own: false, value: shared, shared, text: `As the shared setting: ${show(shared)}` };
}

/** The shared section's value of `key`, which a room follows unless it sets its own. */
export function sharedValue(config: ConfigView | null | undefined, section: SectionName, key: string): unknown {
	return (config?.[section] as Record<string, unknown> | undefined)?.[key];
}

/** What a save of a room's form sends: each field the draft sets that the override does not,
 *  or sets otherwise, with its value; `null` for each the override sets that the draft no
 *  longer does (it follows the shared value again). Empty: nothing changed. */
export function overridePatch(stored: Record<string, unknown>, draft: Record<string, unknown>): Record<string, unknown> {
	const patch: Record<string, unknown> = {};
	for (const [key, value] of Object.entries(draft)) {
		if (!(key in stored) || JSON.stringify(stored[key]) !== JSON.stringify(value)) patch[key] = value;
	}
	for (const key of Object.keys(stored)) if (!(key in draft)) patch[key] = null;
	return patch;
}

/** How the page names a form with changes not saved: a section by its title (`LED display`), a
 *  room's own values by the room and the title (`Kitchen: LED display`). */
export function formTitle(
	name: string,
	sections: ReadonlyArray<{ name: string; title: string }>,
	rooms: ReadonlyArray<{ name: string; room: string }>
): string {
	const [section, node] = splitName(name);
	const title = sections.find((s) => s.name === section)?.title ?? section;
	if (node === null) return title;
	return `${rooms.find((r) => r.name === node)?.room ?? node}: ${title}`;
}
