// The alert engine's `GET /api/alerts`, typed by hand from its announced shape while the Rust
// side is being written.
// TODO: to be replaced by the generated types (src/lib/api/generated/, ts-rs) once the gateway
// has them; keep these exactly as the gateway sends them until then.

/** One alert event: a rule fired for a sensor, or it cleared. */
export interface AlertEvent {
	/** `{rule}|{source}|{sensor}`, e.g. `co2-high|co2|office:co2`. */
	id: string;
	rule: string;
	/** The rule's name in words ("CO₂ high"). */
	name: string;
	kind: 'fired' | 'cleared';
	source: string;
	sensor: string;
	/** The sensor in words ("CO₂ · office"). */
	label: string;
	value: number;
	unit: string;
	threshold: number;
	condition: 'above' | 'below';
	/** Unix seconds since when the condition held. */
	since: number;
	/** Unix seconds of this event (fired or cleared). */
	at: number;
	/** The engine's own sentence, as its notifications say it. */
	message: string;
}

/** A notification channel's health. */
export interface AlertChannel {
	state: 'ok' | 'failing' | 'off';
	last_error: string | null;
	last_success: number | null;
	pending: number;
}

/** `GET /api/alerts`. */
export interface Alerts {
	active: AlertEvent[];
	history: AlertEvent[];
	channels: Record<string, AlertChannel>;
}
