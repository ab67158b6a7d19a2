// What the settings page shows for each config section: labels, input kinds and hints. The
// field names are checked against the generated config types (a renamed Rust field fails
// svelte-check); the ranges of number fields come from the gateway's own checks (the generated
// `CONFIG_RANGES`, filled in by `ranged`), for the inputs: the gateway validates every write and
// its message is shown next to the field. The labels here are the only names a person sees for
// the fields: the inputs use them, and so do the gateway's messages (`fieldName`, `describe`),
// which name fields by their paths (`schedule.system`, `camera.cameras[0].host`).
import type { AlertRule, Aranet4Sensor, CameraEntry, Config, SectionName } from '$lib/api/types';
import { CONFIG_RANGES } from '$lib/api/generated/constants';

export type FieldKind = 'int' | 'number' | 'text' | 'password' | 'bool' | 'select' | 'list';

export interface FieldSpec<K extends string = string> {
	key: K;
	label: string;
	kind: FieldKind;
	help?: string;
	min?: number;
	max?: number;
	step?: number;
	options?: ReadonlyArray<{ value: string | number; label: string }>;
	placeholder?: string;
	/** Read-only: shown, never sent (e.g. a password hash). */
	readonly?: boolean;
}

type Fields<S extends SectionName> = ReadonlyArray<FieldSpec<keyof Config[S] & string>>;

/** A list edited by its own component (cameras, monitors): its label, what one entry is called,
 *  and the labels of an entry's fields. */
export interface ListSpec {
	label: string;
	item: string;
	fields: Readonly<Record<string, string>>;
}

/** An object field edited as a group of its own inputs (`ntfy`: its URL, topic, token…). */
export interface GroupSpec {
	label: string;
	fields: ReadonlyArray<FieldSpec>;
}

export interface SectionSpec<S extends SectionName = SectionName> {
	name: S;
	title: string;
	intro?: string;
	fields: Fields<S>;
	/** Lists with an editor of their own. */
	lists?: Readonly<Partial<Record<keyof Config[S] & string, ListSpec>>>;
	/** Objects whose fields have inputs of their own (`ntfy.topic`). */
	groups?: Readonly<Partial<Record<keyof Config[S] & string, GroupSpec>>>;
	/** Other names the gateway may use in this section (a field the form shows elsewhere, or
	 *  sends under another name). */
	others?: Readonly<Record<string, string>>;
}

/** A number setting the gateway bounds, by its path (`camera.cameras[].port`: each camera's). */
export type RangedPath = keyof typeof CONFIG_RANGES;

/** The allowed values of a number setting, both ends included. */
export const rangeOf = (path: RangedPath): { min: number; max: number } => CONFIG_RANGES[path];

/** A range in words for a hint: `60–86400`. */
const span = (path: RangedPath) => `${rangeOf(path).min}–${rangeOf(path).max}`;

/** The section with each number field's `min` and `max` filled in from the gateway's ranges
 *  (`{section}.{field}`, `{section}.{group}.{field}`), where the field does not set its own. */
function ranged<S extends SectionName>(spec: SectionSpec<S>): SectionSpec<S> {
	const bound = <F extends FieldSpec>(path: string, field: F): F => {
		const range = (CONFIG_RANGES as Record<string, { min: number; max: number } | undefined>)[path];
		return range ? { ...field, min: field.min ?? range.min, max: field.max ?? range.max } : field;
	};
	const groups: Record<string, GroupSpec> = {};
	for (const [g, group] of Object.entries(spec.groups ?? {}) as Array<[string, GroupSpec]>)
		groups[g] = { ...group, fields: group.fields.map((f) => bound(`${spec.name}.${g}.${f.key}`, f)) };
	// The same keys as `spec.groups`, each with its fields bounded.
	const bounded = (spec.groups ? groups : undefined) as SectionSpec<S>['groups'];
	return { ...spec, fields: spec.fields.map((f) => bound(`${spec.name}.${f.key}`, f)), groups: bounded };
}

const hours = Array.from({ length: rangeOf('sleep.start_hour').max + 1 }, (_, h) => ({ value: h, label: `${String(h).padStart(2, '0')}:00` }));

export const display: SectionSpec<'display'> = ranged({
	name: 'display',
	title: 'LED display',
	intro: 'The Sense HAT’s 8×8 LED matrix.',
	fields: [
		{
			key: 'rotation',
			label: 'Rotation',
			kind: 'select',
			options: [0, 90, 180, 270].map((d) => ({ value: d, label: `${d}°` })),
			help: 'How the Pi is turned; the picture is turned to match.'
		},
		{ key: 'scroll_speed', label: 'Scroll speed', kind: 'number', step: 0.01, help: 'Seconds per step (lower is faster).' },
		{ key: 'icon_duration', label: 'Icon duration', kind: 'number', step: 0.1, help: 'Seconds.' },
		{ key: 'show_icons', label: 'Show icons', kind: 'bool' },
		{ key: 'cycle_interval', label: 'Pause between cycles', kind: 'int', help: 'Seconds.' },
		{ key: 'low_light', label: 'Low light', kind: 'bool', help: 'Dimmer LEDs.' }
	]
});

export const sleep: SectionSpec<'sleep'> = ranged({
	name: 'sleep',
	title: 'Night',
	intro: 'The display is dark from the start hour to the end hour (local time). The same hour twice: never.',
	fields: [
		{ key: 'start_hour', label: 'Dark from', kind: 'select', options: hours },
		{ key: 'end_hour', label: 'Until', kind: 'select', options: hours },
		{ key: 'disable_pi_leds', label: 'Also switch off the Pi’s own LEDs', kind: 'bool' }
	]
});

export const sensors: SectionSpec<'sensors'> = ranged({
	name: 'sensors',
	title: 'Sense HAT sensors',
	fields: [
		{
			key: 'compensation_factor',
			label: 'CPU heat compensation factor',
			kind: 'number',
			step: 0.1,
			// 0 (off) is allowed below the range.
			min: 0,
			help: `0 turns it off; otherwise ${span('sensors.compensation_factor')} (larger corrects less).`
		}
	]
});

export const weather: SectionSpec<'weather'> = ranged({
	name: 'weather',
	title: 'Weather',
	fields: [
		{ key: 'location', label: 'Location', kind: 'text', placeholder: 'e.g. London (empty: guessed from the IP)' },
		{ key: 'cache_duration', label: 'Reuse an answer for', kind: 'int', help: 'Seconds.' },
		{ key: 'base_url', label: 'Server', kind: 'text', placeholder: 'https://wttr.in' }
	]
});

export const pihole: SectionSpec<'pihole'> = ranged({
	name: 'pihole',
	title: 'Pi-hole',
	fields: [
		{ key: 'host', label: 'Address', kind: 'text', placeholder: 'http://pi.hole (empty: no Pi-hole)' },
		{ key: 'password', label: 'App password', kind: 'password', help: 'Left as ******** keeps the stored one.' }
	]
});

export const mqtt: SectionSpec<'mqtt'> = ranged({
	name: 'mqtt',
	title: 'MQTT / Home Assistant',
	intro:
		'Publish every reading to an MQTT broker with Home Assistant’s MQTT discovery: each source appears in Home Assistant as a device with its sensors, unavailable while its polls fail, and the LED matrix text as a text entity.',
	fields: [
		{ key: 'enabled', label: 'Publish to MQTT', kind: 'bool' },
		{ key: 'host', label: 'Broker', kind: 'text', placeholder: 'e.g. homeassistant.local (no mqtt://, no port)' },
		{ key: 'port', label: 'Port', kind: 'int', help: '1883; usually 8883 with TLS.' },
		{ key: 'tls', label: 'TLS', kind: 'bool' },
		{ key: 'ca_file', label: 'CA file', kind: 'text', placeholder: 'empty: the public web’s roots', help: 'A PEM file on the Pi, for a broker with a CA of its own.' },
		{ key: 'username', label: 'User', kind: 'text', placeholder: 'empty: anonymous' },
		{ key: 'password', label: 'Password', kind: 'password', help: 'Left as ******** keeps the stored one.' },
		{ key: 'client_id', label: 'Client id', kind: 'text', help: 'Letters, digits, _, - and . (1–64).' },
		{ key: 'discovery_prefix', label: 'Discovery prefix', kind: 'text', help: 'As in Home Assistant’s MQTT settings (homeassistant by default).' },
		{ key: 'base_topic', label: 'Base topic', kind: 'text', help: 'States go to {base}/{source}/{sensor}/state.' }
	]
});

export const schedule: SectionSpec<'schedule'> = ranged({
	name: 'schedule',
	title: 'Poll intervals',
	intro: `Seconds between polls of each source (${span('schedule.system')}).`,
	fields: [
		{ key: 'sensors', label: 'Sense HAT', kind: 'int' },
		{ key: 'aranet4', label: 'Aranet4', kind: 'int' },
		{ key: 'system', label: 'System', kind: 'int' },
		{ key: 'weather', label: 'Weather', kind: 'int' },
		{ key: 'pihole', label: 'Pi-hole', kind: 'int' },
		{ key: 'tailscale', label: 'Tailscale', kind: 'int' }
	]
});

export const global: SectionSpec<'global'> = ranged({
	name: 'global',
	title: 'Data',
	fields: [
		{ key: 'cache_ttl', label: 'Keep readings at least', kind: 'int', help: `Seconds (${span('global.cache_ttl')}).` }
	]
});

export const auth: SectionSpec<'auth'> = ranged({
	name: 'auth',
	title: 'Sign-in',
	intro: 'Ask for a login before showing the dashboard or taking commands. Set a username and a password before turning it on.',
	// The form sends a new password as `password`; the gateway stores only its hash.
	others: { password: 'New password', password_hash: 'Password' },
	fields: [
		{ key: 'enabled', label: 'Require a login', kind: 'bool' },
		{ key: 'username', label: 'Username', kind: 'text' },
		{ key: 'trusted_proxies', label: 'Trusted proxies', kind: 'list', help: 'Reverse proxies: IP addresses or CIDR ranges (172.30.0.0/24), comma separated. Their X-Forwarded-For names the client for the login limits, and their Tailscale-User-Login header counts as a login.' },
		{ key: 'tailscale_users', label: 'Tailscale users', kind: 'list', help: 'Logins let in by that header, comma separated (empty: any).' },
		{ key: 'allowed_hosts', label: 'Allowed host names', kind: 'list', help: 'Names the dashboard may be opened by, comma separated, besides its IP addresses, localhost and the names the machine and Tailscale report; *.example.com for every name under it. Other names are refused (DNS rebinding).' }
	]
});

/** The fields of one camera, as its inputs and messages name them. */
export const CAMERA_FIELDS = {
	name: 'Name',
	host: 'Host',
	port: 'RTSP port',
	stream_path: 'Stream path',
	username: 'User',
	password: 'Password',
	enabled: 'Enabled',
	ptz_enabled: 'PTZ (ONVIF)',
	onvif_port: 'ONVIF port',
	ptz_step: 'Pan/tilt step',
	ptz_zoom_step: 'Zoom step'
} as const satisfies Record<keyof CameraEntry, string>;

/** The fields of one Aranet4 monitor. */
export const ARANET4_FIELDS = {
	label: 'Name',
	mac: 'Bluetooth address',
	enabled: 'Read it'
} as const satisfies Record<keyof Aranet4Sensor, string>;

export const camera: SectionSpec<'camera'> = ranged({
	name: 'camera',
	title: 'Camera stream',
	lists: { cameras: { label: 'Cameras', item: 'camera', fields: CAMERA_FIELDS } },
	fields: [
		{ key: 'transport', label: 'RTSP transport', kind: 'select', options: [{ value: 'tcp', label: 'TCP' }, { value: 'udp', label: 'UDP' }] },
		{ key: 'reconnect_delay', label: 'Reconnect after', kind: 'int', help: `Seconds (${span('camera.reconnect_delay')}).` },
		{ key: 'max_reconnect_attempts', label: 'Reconnect attempts', kind: 'int', help: '−1: forever.' },
		{ key: 'hls_segment_duration', label: 'Segment length', kind: 'int', help: 'Seconds.' },
		{ key: 'hls_playlist_size', label: 'Segments in the playlist', kind: 'int' }
	]
});

export const aranet4: SectionSpec<'aranet4'> = ranged({
	name: 'aranet4',
	title: 'Aranet4 monitors',
	lists: { sensors: { label: 'Monitors', item: 'monitor', fields: ARANET4_FIELDS } },
	fields: [{ key: 'timeout', label: 'Listen for', kind: 'int', help: 'Seconds per poll.' }]
});

/** The fields of one alert rule. */
export const RULE_FIELDS = {
	id: 'Id',
	name: 'Name',
	source: 'Source',
	sensor: 'Sensor',
	condition: 'When the value is',
	threshold: 'Threshold',
	for_s: 'For',
	hysteresis: 'Hysteresis',
	enabled: 'In use'
} as const satisfies Record<keyof AlertRule, string>;

export const alerts: SectionSpec<'alerts'> = ranged({
	name: 'alerts',
	title: 'Alerts',
	intro:
		'Alerts on readings past a threshold, on a source that is down and on the data bus out of reach: shown on the overview and sent to ntfy or a webhook.',
	lists: { rules: { label: 'Rules', item: 'rule', fields: RULE_FIELDS } },
	groups: {
		source_down: {
			label: 'Source down',
			fields: [
				{ key: 'enabled', label: 'Alert when a source is down', kind: 'bool' },
				{ key: 'minutes', label: 'After', kind: 'int', help: `Minutes (${span('alerts.source_down.minutes')}) of failed polls or no status, or of a Pi out of contact (one alert for the Pi).` }
			]
		},
		bus_down: {
			label: 'Data bus down',
			fields: [
				{ key: 'enabled', label: 'Alert when the data bus is out of reach', kind: 'bool' },
				{ key: 'seconds', label: 'After', kind: 'int', help: `Seconds (${span('alerts.bus_down.seconds')}).` }
			]
		},
		ntfy: {
			label: 'ntfy',
			fields: [
				{ key: 'enabled', label: 'Send alerts to ntfy', kind: 'bool' },
				{ key: 'url', label: 'Server', kind: 'text', placeholder: 'https://ntfy.sh' },
				{ key: 'topic', label: 'Topic', kind: 'text', help: 'The topic your phone subscribes to: letters, digits, - and _.' },
				{ key: 'token', label: 'Access token', kind: 'password', help: 'For a protected topic; empty for an open one. Left as ******** keeps the stored one.' }
			]
		},
		webhook: {
			label: 'Webhook',
			fields: [
				{ key: 'enabled', label: 'Post alerts to a webhook', kind: 'bool' },
				// A webhook's URL is its key (Slack's and Discord's carry a token in the path): a secret.
				{ key: 'url', label: 'URL', kind: 'password', placeholder: 'https://example.com/hook', help: 'Each alert that fires or clears is POSTed there as JSON. Kept secret, as it holds the hook’s key: left as ******** keeps the stored one.' }
			]
		}
	},
	fields: [{ key: 'enabled', label: 'Alerts on', kind: 'bool', help: 'Off: nothing is watched, shown or sent.' }]
});

/** `CO₂ high` → `co2-high`: a rule id (1–64 of a-z, 0-9, - and _) from its name. */
export function slug(name: string): string {
	const s = name
		.normalize('NFKD')
		.replace(/[\u0300-\u036f]/g, '')
		.toLowerCase()
		.replace(/[^a-z0-9]+/g, '-')
		.replace(/^-+|-+$/g, '')
		.slice(0, 48)
		.replace(/-+$/, '');
	return s || 'rule';
}

/** The rules with an id for each new one (`id` empty): from its name, unique among them. Ids
 *  already given are kept (the history names rules by them). */
export function withRuleIds(rules: readonly AlertRule[]): AlertRule[] {
	const taken = new Set(rules.map((r) => r.id).filter(Boolean));
	return rules.map((r) => {
		if (r.id) return r;
		const base = slug(r.name);
		let id = base;
		for (let n = 2; taken.has(id); n++) id = `${base}-${n}`;
		taken.add(id);
		return { ...r, id };
	});
}

/** Every section, in the order the settings page shows them (and its jump links name them). */
export const SECTIONS: ReadonlyArray<SectionSpec> = [display, sleep, sensors, aranet4, camera, alerts, weather, pihole, mqtt, schedule, auth, global] as ReadonlyArray<SectionSpec>;

const specOf = (section: string): SectionSpec | undefined => SECTIONS.find((s) => s.name === section);

/** `cameras[1].host` → `['cameras', 1, 'host']`. */
export function pathParts(path: string): Array<string | number> {
	return [...path.matchAll(/[^.[\]]+/g)].map(([p]) => (/^\d+$/.test(p) ? Number(p) : p));
}

/** The value at `path` within `value` (`undefined` when there is none). */
export function valueAt(value: unknown, path: string): unknown {
	let v = value;
	for (const p of pathParts(path)) {
		if (v === null || typeof v !== 'object') return undefined;
		v = (v as Record<string | number, unknown>)[p];
	}
	return v;
}

const quote = (label: string) => `“${label}”`;
const words = (key: string) => key.replace(/_/g, ' ');

/**
 * A field as a person knows it, from its path within `section`: `scroll_speed` → “Scroll speed”,
 * `cameras[0].host` → “Host” of camera 1, `trusted_proxies[2]` → entry 3 of “Trusted proxies”.
 * `''` is the section. A name with no label here is shown in words, never as a path.
 */
export function fieldName(section: string, path: string): string {
	const spec = specOf(section);
	if (!path) return spec ? quote(spec.title) : words(section);
	const [top, index, sub] = pathParts(path);
	const key = String(top);
	const list = (spec?.lists as Partial<Record<string, ListSpec>> | undefined)?.[key];
	const group = (spec?.groups as Partial<Record<string, GroupSpec>> | undefined)?.[key];
	const label = spec?.fields.find((f) => f.key === key)?.label ?? list?.label ?? group?.label ?? spec?.others?.[key] ?? words(key);
	// `ntfy.topic` → “Topic” of ntfy.
	if (typeof index === 'string') return `${quote(group?.fields.find((f) => f.key === index)?.label ?? words(index))} of ${label}`;
	if (typeof index !== 'number') return quote(label);
	const item = `${list?.item ?? 'entry'} ${index + 1}`;
	if (sub === undefined) return list ? item : `${item} of ${quote(label)}`;
	return `${quote(list?.fields[String(sub)] ?? words(String(sub)))} of ${item}`;
}

/**
 * The gateway's message about the field at `path` (within `section`), without the path it
 * starts with, and with the other fields it names (`password_hash`, `sensors[1]`) named by
 * their labels.
 */
export function humanMessage(section: string, path: string, message: string): string {
	// The gateway's messages start with the path, with or without a colon.
	const names = path ? `${escapeRe(`${section}.${path}`)}|${escapeRe(path)}` : escapeRe(section);
	let text = message.replace(new RegExp(`^(?:${names})(?:: | (?=must |cannot |is ))`), '');
	text = text.replace(/\b[a-z][a-z0-9]*(?:_[a-z0-9]+)*(?:\[\d+\])(?:\.[a-z][a-z0-9_]*)?|\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b/g, (name) =>
		knows(section, name) ? fieldName(section, name) : name
	);
	const field = specOf(section)?.fields.find((f) => f.key === pathParts(path)[0]);
	if (field?.kind === 'bool') text = text.replace(/\bbe true\b/, 'be on').replace(/\bbe false\b/, 'be off');
	return text;
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Whether `path` names a field of `section` (its first part is a field, a list or another name). */
function knows(section: string, path: string): boolean {
	const spec = specOf(section);
	const key = String(pathParts(path)[0]);
	return Boolean(
		spec &&
			(spec.fields.some((f) => f.key === key) || (spec.lists && key in spec.lists) || (spec.groups && key in spec.groups) || spec.others?.[key])
	);
}

const capital = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/**
 * The gateway's message about a field, whole: the field's label, then what is wrong with it.
 * `sent` is the value that was refused: a number field sent empty says so, and what it takes
 * (the gateway can only say what type it wanted).
 */
export function describe(section: string, path: string, message: string, sent?: unknown): string {
	const name = fieldName(section, path);
	const field = specOf(section)?.fields.find((f) => f.key === path);
	if ((sent === '' || sent === null) && (field?.kind === 'int' || field?.kind === 'number')) {
		const range = field.min !== undefined && field.max !== undefined ? ` from ${field.min} to ${field.max}` : '';
		return capital(`${name} is empty: enter ${field.kind === 'int' ? 'a whole number' : 'a number'}${range}.`);
	}
	// A number within a list or a group (`rules[0].threshold`) left empty: the gateway can only
	// say what type it wanted.
	if (sent === '' && !field && /number|expected [uif]\d+|invalid type/.test(message)) {
		return capital(`${name} is empty: enter a number.`);
	}
	const text = humanMessage(section, path, message);
	// "… must be …" follows the name; a message about a value ("kitchen" is already used…) is
	// set apart from it.
	return capital(`${name}${/^[a-z]/.test(text) ? ' ' : ': '}${text}`);
}

/**
 * A problem or warning of the gateway that names a field by its path, in words:
 * `config:display.rotation: must be …` (from `_problems`) and `display.rotation: must be …`
 * (a save's warnings) become "LED display: “Rotation” must be …". Other text (a problem with an
 * environment variable) is returned as it is.
 */
export function describeProblem(text: string): string {
	const m = /^(config:)?([a-z0-9_]+)(?:\.([^\s:]+))?(?:: | )([\s\S]*)$/.exec(text);
	const spec = m && specOf(m[2]!);
	if (!m || !spec || !(m[1] || m[3])) return text;
	const [, , section, path = '', rest] = m;
	if (!path) return `${spec.title}: the stored section ${rest}`;
	return `${spec.title}: ${describe(section!, path, rest!)}`;
}

/** RTSP paths of common cameras, for the stream-path field. */
export const STREAM_PRESETS: ReadonlyArray<{ label: string; path: string }> = [
	{ label: 'Hikvision (main)', path: '/Streaming/Channels/101' },
	{ label: 'Hikvision (sub)', path: '/Streaming/Channels/102' },
	{ label: 'Dahua / Amcrest (main)', path: '/cam/realmonitor?channel=1&subtype=0' },
	{ label: 'Dahua / Amcrest (sub)', path: '/cam/realmonitor?channel=1&subtype=1' },
	{ label: 'Reolink (main)', path: '/h264Preview_01_main' },
	{ label: 'Reolink (sub)', path: '/h264Preview_01_sub' },
	{ label: 'TP-Link Tapo (HD)', path: '/stream1' },
	{ label: 'TP-Link Tapo (SD)', path: '/stream2' },
	{ label: 'Axis', path: '/axis-media/media.amp' },
	{ label: 'Ubiquiti UniFi', path: '/s0' },
	{ label: 'Generic ONVIF', path: '/onvif1' }
];

/** The fields of `edited` that differ from `original` (what a save sends). */
export function changed<T extends object>(original: T, edited: T): Partial<T> {
	const out: Partial<T> = {};
	for (const k of Object.keys(edited) as Array<keyof T>) {
		if (JSON.stringify(original[k]) !== JSON.stringify(edited[k])) out[k] = edited[k];
	}
	return out;
}
