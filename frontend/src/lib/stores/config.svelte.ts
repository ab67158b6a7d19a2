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

export type SaveResult = { ok: true } | { ok: false; field?: string; error: string };

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
			await this.client.saveConfig(body);
			this.errors = clear;
			await this.load();
			return { ok: true };
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
