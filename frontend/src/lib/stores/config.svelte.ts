// The config sections as the gateway shows them (secrets as ********), and saving them with the
// API's validation: a refusal names the field, and the message is kept for that field, in words,
// for as long as the form still holds the value that was refused.
import { SvelteSet } from 'svelte/reactivity';
import { ApiError, type Client } from '$lib/api/client';
import type { ConfigPatch, ConfigView, OverrideName, SectionName, SourceId } from '$lib/api/types';
import { overrideRevision, splitName } from '$lib/overrides';
import { describe, valueAt } from '$lib/settings';

/** Poll intervals used until the config has loaded (the contract's defaults). */
export const DEFAULT_INTERVALS: Record<SourceId, number | null> = {
	tailscale: 30,
	pihole: 30,
	system: 30,
	sensors: 30,
	co2: 60,
	weather: 300,
	network_camera: null
};

/** A saved section comes with `warnings`: stored values it did not set that are still invalid. */
export type SaveResult = { ok: true; warnings: string[] } | { ok: false; field?: string; error: string };

/** A stored value the gateway does not use (named in `_problems`): `path` within the section
 *  (`rotation`, `sensors[1].mac`; empty for the whole section) and what is wrong with it. */
export interface StoredProblem {
	path: string;
	message: string;
}

/** The top-level field a path within a section belongs to (`sensors[1].mac` → `sensors`). */
export const topField = (path: string) => path.split(/[.[]/, 1)[0]!;

/** A refused save of a section: the field at fault (its path within the section, `''` for the
 *  section as a whole), the message in words, and the changes that were sent. */
export interface Refusal {
	path: string;
	message: string;
	sent: Record<string, unknown>;
	/** Said until the next save, whatever the form holds (the section changed elsewhere). */
	sticky: boolean;
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

export class ConfigStore {
	config = $state<ConfigView | null>(null);
	loadError = $state<string | null>(null);
	/** The last refused save of each section, and of each room's own values (`display@kitchen`). */
	refusals = $state<Partial<Record<SectionName | OverrideName, Refusal>>>({});
	saving = $state<SectionName | OverrideName | null>(null);
	/** The sections (and rooms' own values, `display@kitchen`) whose forms hold changes not saved
	 *  yet (a page asks before leaving them). */
	unsaved = new SvelteSet<SectionName | OverrideName>();

	constructor(private readonly client: Pick<Client, 'config' | 'saveConfig'>) {}

	async load(): Promise<void> {
		try {
			this.config = await this.client.config();
			this.loadError = null;
		} catch (e) {
			this.loadError = (e as Error).message;
		}
	}

	/** Seconds between polls of a source (`null`: on demand). */
	interval(source: string): number | null {
		const s = this.config?.schedule;
		switch (source) {
			case 'co2':
				return s?.aranet4 ?? DEFAULT_INTERVALS.co2;
			case 'tailscale':
			case 'pihole':
			case 'system':
			case 'weather':
			case 'sensors':
				return s?.[source] ?? DEFAULT_INTERVALS[source];
			default:
				return null;
		}
	}

	/**
	 * The refusal of a section's last save, while it still applies to `edits` (the changes its
	 * form would send now): while the field it names holds the refused value, or, when the
	 * message is about a field the form did not send (the stored password), while nothing
	 * changed. Fixing the value, or removing the list entry it named, makes it go.
	 */
	refusal(section: SectionName | OverrideName, edits?: Record<string, unknown>): Refusal | null {
		const r = this.refusals[section];
		if (!r || edits === undefined || r.sticky) return r ?? null;
		const sent = r.path ? valueAt(r.sent, r.path) : undefined;
		if (sent !== undefined) return same(valueAt(edits, r.path), sent) ? r : null;
		return same(edits, r.sent) ? r : null;
	}

	/** The refusal message of one section by the path of its field (`''`: the section), while
	 *  it applies to `edits` (see `refusal`). */
	sectionErrors(section: SectionName | OverrideName, edits?: Record<string, unknown>): Record<string, string> {
		const r = this.refusal(section, edits);
		return r ? { [r.path]: r.message } : {};
	}

	/** Records whether a section's form holds unsaved changes. */
	setUnsaved(section: SectionName | OverrideName, unsaved: boolean): void {
		if (unsaved) this.unsaved.add(section);
		else this.unsaved.delete(section);
	}

	/** The stored values of one section that are not in use (`_problems` naming the section),
	 *  by the top-level field they belong to; `''` for the section as a whole. The settings show
	 *  each next to its field, for the user to fix: a write that does not set it keeps it. */
	storedProblems(section: SectionName): Record<string, StoredProblem> {
		const out: Record<string, StoredProblem> = {};
		const prefix = `config:${section}`;
		for (const p of this.config?._problems ?? []) {
			if (!p.startsWith(prefix)) continue;
			const rest = p.slice(prefix.length);
			// `config:display.rotation: must be …; using 0`; `config:display is not valid JSON …`
			const field = /^\.([^\s:]+): ([\s\S]*)$/.exec(rest);
			if (field) {
				const key = topField(field[1]!);
				out[key] ??= { path: field[1]!, message: field[2]! };
			} else if (rest.startsWith(' ')) {
				out[''] ??= { path: '', message: rest.trim() };
			}
		}
		return out;
	}

	/** Saves one section's changed fields; on success reloads, on refusal records the message.
	 *  A room's own values are saved the same way, by their name (`display@kitchen`): a field sent
	 *  as `null` follows the shared value again. */
	save<S extends SectionName>(section: S, patch: ConfigPatch[S]): Promise<SaveResult>;
	save(section: OverrideName, patch: Record<string, unknown>): Promise<SaveResult>;
	async save(section: SectionName | OverrideName, patch: object | undefined): Promise<SaveResult> {
		this.saving = section;
		// The gateway names a room's field as the section's (`display.rotation`).
		const [base, node] = splitName(section);
		const clear = () => {
			const { [section]: _, ...others } = this.refusals;
			this.refusals = others;
		};
		try {
			// The revision this form was loaded at: if someone else saved the section since, the
			// gateway refuses (409, "changed elsewhere — reload") rather than overwrite theirs.
			const revision = node ? overrideRevision(this.config, section) : this.config?._revisions?.[section];
			const body = { [section]: patch } as ConfigPatch;
			if (revision) body._revisions = { [section]: revision };
			const reply = await this.client.saveConfig(body);
			clear();
			await this.load();
			// Stored values this save did not set that are still invalid (kept, not in use).
			return { ok: true, warnings: reply?.warnings ?? [] };
		} catch (e) {
			const err = e as ApiError;
			const field = err instanceof ApiError && err.field ? err.field : section;
			const path =
				field === section || field === base
					? ''
					: field.startsWith(`${section}.`)
						? field.slice(section.length + 1)
						: field.startsWith(`${base}.`)
							? field.slice(base.length + 1)
							: field;
			const stale = err instanceof ApiError && err.status === 409;
			// The gateway names the field by its path (`schedule.system: …`): said with its label.
			const message = stale
				? 'Changed elsewhere since this page loaded: reload to see the new values, then save again.'
				: describe(base, path, err.message, path ? valueAt(patch, path) : undefined);
			this.refusals = {
				...this.refusals,
				[section]: { path, message, sent: JSON.parse(JSON.stringify(patch ?? {})), sticky: stale || path === '' }
			};
			return { ok: false, field, error: message };
		} finally {
			this.saving = null;
		}
	}
}
