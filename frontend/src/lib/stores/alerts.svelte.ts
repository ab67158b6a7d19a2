// The alert engine's state, polled over `GET /api/alerts` every `ALERTS_POLL_MS` and at once
// whenever the sources feed (re)connects (app.svelte.ts). What an answer means:
// - 200: the active alerts, the history and the notification channels;
// - 404: this gateway has no alert engine: nothing is shown (`absent`);
// - 503 (the data bus is down) or no answer at all: what was shown stays, with the error.
import { ApiError, type Client } from '$lib/api/client';
import type { AlertEvent, Alerts } from '$lib/api/types';
import { activeOrder, historyOrder } from '$lib/util/alerts';

export const ALERTS_POLL_MS = 15_000;

export class AlertsStore {
	/** The last answer (`null`: none yet, or the feature is absent). */
	data = $state<Alerts | null>(null);
	/** The gateway has no `/api/alerts` (404): show nothing about alerts. */
	absent = $state(false);
	/** Why the last poll brought nothing new (503, no answer), `null` when it did. */
	error = $state<string | null>(null);
	/** When the answer shown is the copy this device kept (offline): when it was saved. */
	savedAt = $state<number | null>(null);
	active = $derived<AlertEvent[]>(this.data ? activeOrder(this.data.active) : []);
	history = $derived<AlertEvent[]>(this.data ? historyOrder(this.data.history) : []);
	private timer: ReturnType<typeof setInterval> | null = null;
	private asked = 0;

	constructor(
		private readonly client: () => Pick<Client, 'alerts'>,
		private readonly everyMs = ALERTS_POLL_MS
	) {}

	/** Asks once; a late answer to an older question is dropped. */
	async refresh(): Promise<void> {
		const ask = ++this.asked;
		try {
			const { body, savedAt } = await this.client().alerts();
			if (ask !== this.asked) return;
			if (!body || !Array.isArray(body.active) || !Array.isArray(body.history)) {
				this.error = 'the gateway answered with something that is not alerts';
				return;
			}
			this.data = { active: body.active, history: body.history, channels: body.channels ?? {} };
			this.savedAt = savedAt;
			this.absent = false;
			this.error = null;
		} catch (e) {
			if (ask !== this.asked) return;
			if (e instanceof ApiError && e.status === 404) {
				this.absent = true;
				this.data = null;
				this.error = null;
			} else if (e instanceof ApiError && e.status === 401) {
				this.data = null;
			} else {
				// 503 (the bus is down), a network failure: keep what is shown.
				this.error = (e as Error).message;
			}
		}
	}

	start(): void {
		this.stop();
		void this.refresh();
		this.timer = setInterval(() => void this.refresh(), this.everyMs);
	}

	stop(): void {
		if (this.timer !== null) clearInterval(this.timer);
		this.timer = null;
	}

	/** Forgets everything (signed out: the next person sees none of it). */
	clear(): void {
		this.stop();
		this.asked++;
		this.data = null;
		this.absent = false;
		this.error = null;
		this.savedAt = null;
	}
}
