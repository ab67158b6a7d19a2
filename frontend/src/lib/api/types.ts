// The API's types. Everything with a Rust definition is generated from it (./generated, by ts-rs:
// `cargo test -p sense-bus -p sense-gateway --features ts --test typescript`); this module only
// names them for the app and adds what has no Rust type of its own.
export type { Reading } from './generated/Reading';
export type { Status } from './generated/Status';
export type { MissingPart } from './generated/MissingPart';
export type { LinkHealth } from './generated/LinkHealth';
export type { PollOutcome } from './generated/PollOutcome';
export type { Meta } from './generated/Meta';
export type { MatrixState } from './generated/MatrixState';
export type { LogEntry } from './generated/LogEntry';
export type { Config } from './generated/Config';
export type { SourceView } from './generated/SourceView';
export type { SourcesDelta } from './generated/SourcesDelta';
export type { BusState } from './generated/BusState';
export type { BusHealth } from './generated/BusHealth';
export type { ApiError as ApiErrorBody } from './generated/ApiError';
export type { CommandReply } from './generated/CommandReply';
export type { ConfigUpdated } from './generated/ConfigUpdated';
export type { History } from './generated/History';
// The batched history API's types (hand-written until generated: see ./history).
export type { HistoryBatch, HistorySeries, HistoryRange, RawPoint, RollupPoint } from './history';
export type { Health } from './generated/Health';
export type { Nodes } from './generated/Nodes';
export type { NodeView } from './generated/NodeView';
export type { Contact } from './generated/Contact';
export type { Session } from './generated/Session';
export type { Simulation } from './generated/Simulation';
export type { Login } from './generated/Login';
export type { DisplayConfig } from './generated/DisplayConfig';
export type { SleepConfig } from './generated/SleepConfig';
export type { WeatherConfig } from './generated/WeatherConfig';
export type { PiholeConfig } from './generated/PiholeConfig';
export type { Aranet4Config } from './generated/Aranet4Config';
export type { Aranet4Sensor } from './generated/Aranet4Sensor';
export type { CameraConfig } from './generated/CameraConfig';
export type { CameraEntry } from './generated/CameraEntry';
export type { ScheduleConfig } from './generated/ScheduleConfig';
export type { AuthConfig } from './generated/AuthConfig';
export type { SensorsConfig } from './generated/SensorsConfig';
export type { GlobalConfig } from './generated/GlobalConfig';
export type { JsonValue } from './generated/serde_json/JsonValue';
export type { Alerts } from './generated/Alerts';
export type { AlertEvent } from './generated/AlertEvent';
export type { AlertKind } from './generated/AlertKind';
export type { AlertTrigger } from './generated/AlertTrigger';
export type { ChannelHealth } from './generated/ChannelHealth';
export type { ChannelState } from './generated/ChannelState';
export type { AlertsConfig } from './generated/AlertsConfig';
export type { AlertRule } from './generated/AlertRule';
export type { AlertCondition } from './generated/AlertCondition';
export type { SourceDownAlert } from './generated/SourceDownAlert';
export type { BusDownAlert } from './generated/BusDownAlert';
export type { NtfyChannel } from './generated/NtfyChannel';
export type { WebhookChannel } from './generated/WebhookChannel';

import type { Config } from './generated/Config';
import type { SourceView } from './generated/SourceView';

/** `GET /api/sources` and each default `/ws/sources` message: every source by id (each with the
 *  bus state, `bus`). In a `/ws/sources?mode=delta` message (`SourcesDelta.sources`): the
 *  sources that changed, without `bus` (said once for all). */
export type Sources = Record<string, SourceView>;

/** `GET /api/config`: every section (secrets as `********`), plus the stored values that were
 *  refused and replaced by defaults, and each section's revision (sent back with a save, so a
 *  form loaded before someone else's change is refused instead of overwriting it). */
export type ConfigView = Config & {
	_problems?: string[];
	_revisions?: Record<string, string>;
	/** The satellites' own values (docs/CONTRACT.md, "Several Pis"), by `display@kitchen`: the
	 *  fields each sets (the others follow the shared section) and its revision. Absent when
	 *  none is stored. */
	_overrides?: Record<string, ConfigOverride>;
};

/** A node's own values of a per-node section (`display@kitchen`). */
export interface ConfigOverride {
	fields: Record<string, unknown>;
	revision: string;
}

/** A node's override of a section, as `POST /api/config` names it: `display@kitchen`. */
export type OverrideName = `${SectionName}@${string}`;

/** A config section's name. */
export type SectionName = keyof Config;

/** `POST /api/config`: fields to change, by section. */
export type ConfigPatch = { [S in SectionName]?: Partial<Config[S]> } & {
	/** A new dashboard password: stored only as its bcrypt hash. */
	auth?: Partial<Config['auth']> & { password?: string };
	/** The revisions the sections were loaded at: a section changed since is refused (409). */
	_revisions?: Record<string, string>;
} & {
	/** A node's own values (`display@kitchen`): a field sent as `null` follows the shared
	 *  section again. */
	[override: OverrideName]: Record<string, unknown>;
};

/** The source ids of the contract. */
export const SOURCE_IDS = [
	'tailscale',
	'pihole',
	'sensors',
	'weather',
	'co2',
	'system',
	'network_camera'
] as const;
export type SourceId = (typeof SOURCE_IDS)[number];

/** A microcontroller node's source id (`node-pico-e661`): not one of `SOURCE_IDS`, nodes come and
 *  go with their cables. The name after `node-` is lowercase a-z, 0-9, `-` and `_`. */
export type NodeSourceId = `node-${string}`;

/** Command targets and their actions (docs/CONTRACT.md §2). */
export interface Commands {
	sensors:
		| 'clear'
		| 'set_rotation'
		| 'show_text'
		| 'set_pixels'
		| 'set_low_light'
		| 'get_matrix'
		| 'wake';
	network_camera: 'start' | 'stop' | 'restart' | 'ptz_move' | 'thumbnail';
	orchestrator:
		| 'start_camera'
		| 'stop_camera'
		| 'trigger'
		| 'scan_aranet4'
		| 'discover_cameras'
		| 'restart_service';
	/** A node with an LED matrix (`LinkHealth.led_matrix`): the Sense HAT's action names. */
	[node: NodeSourceId]: 'show_text' | 'clear' | 'set_rotation';
	/** A satellite Pi's Sense HAT (`sensors@kitchen`). */
	[sensors: `sensors@${string}`]: Commands['sensors'];
	/** A satellite Pi's orchestrator (`orchestrator@kitchen`): its scans, its runs. */
	[orchestrator: `orchestrator@${string}`]: Commands['orchestrator'];
}
export type CommandTarget = keyof Commands;

/** One device of a `scan_aranet4` answer (`data.devices`). */
export interface ScannedAranet4 {
	name: string;
	mac: string;
	/** dBm */
	rssi: number | null;
	/** Smart Home integrations on: readable without pairing. */
	integrations: boolean;
	firmware: string | null;
}

/** One camera of a `discover_cameras` answer (`data.cameras`). */
export interface DiscoveredCamera {
	name: string;
	host: string;
	port: number;
}

export type PtzDirection = 'up' | 'down' | 'left' | 'right' | 'zoomin' | 'zoomout';
