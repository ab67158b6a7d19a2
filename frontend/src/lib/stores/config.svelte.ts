// The config sections as the gateway shows them (secrets as ********), and saving them with the
// API's validation: a refusal names the field, and the message is kept for that field.
import { ApiError, type Client } from '$lib/api/client';
import type { ConfigPatch, ConfigView, SectionName, SourceId } from '$lib/api/types';

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

export class ConfigStore {
	config = $state<ConfigView | null>(null);
	loadError = $state<string | null>(null);
	/** Refusal messages by field path (`display.rotation`, `aranet4.sensors[0].mac`). */
	errors = $state<Record<string, string>>({});
	saving = $state<SectionName | null>(null);

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

	/** Errors of one section, by field within it. */
	sectionErrors(section: SectionName): Record<string, string> {
		const out: Record<string, string> = {};
		for (const [path, message] of Object.entries(this.errors)) {
			if (path === section) out[''] = message;
			else if (path.startsWith(`${section}.`)) out[path.slice(section.length + 1)] = message;
		}
		return out;
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

	/** Saves one section's changed fields; on success reloads, on refusal records the message. */
	async save<S extends SectionName>(section: S, patch: ConfigPatch[S]): Promise<SaveResult> {
		this.saving = section;
		const clear = Object.fromEntries(
			Object.entries(this.errors).filter(([p]) => p !== section && !p.startsWith(`${section}.`))
		);
		try {
			// The revision this form was loaded at: if someone else saved the section since, the
			// gateway refuses (409, "changed elsewhere — reload") rather than overwrite theirs.
			const revision = this.config?._revisions?.[section];
			const body = { [section]: patch } as ConfigPatch;
			if (revision) body._revisions = { [section]: revision };
			const reply = await this.client.saveConfig(body);
			this.errors = clear;
			await this.load();
			// Stored values this save did not set that are still invalid (kept, not in use).
			return { ok: true, warnings: reply?.warnings ?? [] };
		} catch (e) {
			const err = e as ApiError;
			const field = err instanceof ApiError && err.field ? err.field : section;
			// The gateway's message starts with the field's path; next to the field it is noise.
			const message =
				err instanceof ApiError && err.status === 409
					? 'Changed elsewhere since this page loaded: reload to see the new values, then save again.'
					: err.message.replace(/^[\w.[\]]+: /, '');
			this.errors = { ...clear, [field]: message };
			return { ok: false, field, error: err.message };
		} finally {
			this.saving = null;
		}
	}
}
