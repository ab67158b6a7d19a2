// What the settings page shows for each config section: labels, input kinds and hints. The
// field names are checked against the generated config types (a renamed Rust field fails
// svelte-check); the ranges are hints for the inputs only: the gateway validates every write and
// its message is shown next to the field.
import type { Config, SectionName } from '$lib/api/types';

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

export interface SectionSpec<S extends SectionName = SectionName> {
	name: S;
	title: string;
	intro?: string;
	fields: Fields<S>;
}

const hours = Array.from({ length: 24 }, (_, h) => ({ value: h, label: `${String(h).padStart(2, '0')}:00` }));

export const display: SectionSpec<'display'> = {
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
		{ key: 'scroll_speed', label: 'Scroll speed', kind: 'number', min: 0.01, max: 1, step: 0.01, help: 'Seconds per step (lower is faster).' },
		{ key: 'icon_duration', label: 'Icon duration', kind: 'number', min: 0, max: 30, step: 0.1, help: 'Seconds.' },
		{ key: 'show_icons', label: 'Show icons', kind: 'bool' },
		{ key: 'cycle_interval', label: 'Pause between cycles', kind: 'int', min: 0, max: 3600, help: 'Seconds.' },
		{ key: 'low_light', label: 'Low light', kind: 'bool', help: 'Dimmer LEDs.' }
	]
};

export const sleep: SectionSpec<'sleep'> = {
	name: 'sleep',
	title: 'Night',
	intro: 'The display is dark from the start hour to the end hour (local time). The same hour twice: never.',
	fields: [
		{ key: 'start_hour', label: 'Dark from', kind: 'select', options: hours },
		{ key: 'end_hour', label: 'Until', kind: 'select', options: hours },
		{ key: 'disable_pi_leds', label: 'Also switch off the Pi’s own LEDs', kind: 'bool' }
	]
};

export const sensors: SectionSpec<'sensors'> = {
	name: 'sensors',
	title: 'Sense HAT sensors',
	fields: [
		{
			key: 'compensation_factor',
			label: 'CPU heat compensation factor',
			kind: 'number',
			step: 0.1,
			min: 0,
			max: 20,
			help: '0 turns it off; otherwise 0.5–20 (larger corrects less).'
		}
	]
};

export const weather: SectionSpec<'weather'> = {
	name: 'weather',
	title: 'Weather',
	fields: [
		{ key: 'location', label: 'Location', kind: 'text', placeholder: 'e.g. London (empty: guessed from the IP)' },
		{ key: 'cache_duration', label: 'Reuse an answer for', kind: 'int', min: 0, max: 86400, help: 'Seconds.' },
		{ key: 'base_url', label: 'Server', kind: 'text', placeholder: 'https://wttr.in' }
	]
};

export const pihole: SectionSpec<'pihole'> = {
	name: 'pihole',
	title: 'Pi-hole',
	fields: [
		{ key: 'host', label: 'Address', kind: 'text', placeholder: 'http://pi.hole (empty: no Pi-hole)' },
		{ key: 'password', label: 'App password', kind: 'password', help: 'Left as ******** keeps the stored one.' }
	]
};

export const schedule: SectionSpec<'schedule'> = {
	name: 'schedule',
	title: 'Poll intervals',
	intro: 'Seconds between polls of each source (5–86400).',
	fields: [
		{ key: 'sensors', label: 'Sense HAT', kind: 'int', min: 5, max: 86400 },
		{ key: 'aranet4', label: 'Aranet4', kind: 'int', min: 5, max: 86400 },
		{ key: 'system', label: 'System', kind: 'int', min: 5, max: 86400 },
		{ key: 'weather', label: 'Weather', kind: 'int', min: 5, max: 86400 },
		{ key: 'pihole', label: 'Pi-hole', kind: 'int', min: 5, max: 86400 },
		{ key: 'tailscale', label: 'Tailscale', kind: 'int', min: 5, max: 86400 }
	]
};

export const global: SectionSpec<'global'> = {
	name: 'global',
	title: 'Data',
	fields: [
		{ key: 'cache_ttl', label: 'Keep readings at least', kind: 'int', min: 60, max: 86400, help: 'Seconds (60–86400).' }
	]
};

export const auth: SectionSpec<'auth'> = {
	name: 'auth',
	title: 'Sign-in',
	intro: 'Ask for a login before showing the dashboard or taking commands. Set a username and a password before turning it on.',
	fields: [
		{ key: 'enabled', label: 'Require a login', kind: 'bool' },
		{ key: 'username', label: 'Username', kind: 'text' },
		{ key: 'trusted_proxies', label: 'Trusted proxies', kind: 'list', help: 'Reverse proxies: IP addresses or CIDR ranges (172.30.0.0/24), comma separated. Their X-Forwarded-For names the client for the login limits, and their Tailscale-User-Login header counts as a login.' },
		{ key: 'tailscale_users', label: 'Tailscale users', kind: 'list', help: 'Logins let in by that header, comma separated (empty: any).' },
		{ key: 'allowed_hosts', label: 'Allowed host names', kind: 'list', help: 'Names the dashboard may be opened by, comma separated, besides its IP addresses, localhost and the names the machine and Tailscale report; *.example.com for every name under it. Other names are refused (DNS rebinding).' }
	]
};

export const camera: SectionSpec<'camera'> = {
	name: 'camera',
	title: 'Camera stream',
	fields: [
		{ key: 'transport', label: 'RTSP transport', kind: 'select', options: [{ value: 'tcp', label: 'TCP' }, { value: 'udp', label: 'UDP' }] },
		{ key: 'reconnect_delay', label: 'Reconnect after', kind: 'int', min: 1, max: 300, help: 'Seconds (1–300).' },
		{ key: 'max_reconnect_attempts', label: 'Reconnect attempts', kind: 'int', min: -1, max: 10000, help: '−1: forever.' },
		{ key: 'hls_segment_duration', label: 'Segment length', kind: 'int', min: 1, max: 10, help: 'Seconds.' },
		{ key: 'hls_playlist_size', label: 'Segments in the playlist', kind: 'int', min: 2, max: 20 }
	]
};

export const aranet4: SectionSpec<'aranet4'> = {
	name: 'aranet4',
	title: 'Aranet4 monitors',
	fields: [{ key: 'timeout', label: 'Listen for', kind: 'int', min: 1, max: 120, help: 'Seconds per poll.' }]
};

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
