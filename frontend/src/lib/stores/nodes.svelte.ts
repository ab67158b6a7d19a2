// The satellite Pis of a multi-node installation, polled over `GET /api/nodes` every
// `NODES_POLL_MS` while the page is visible, and at once whenever the sources feed (re)connects
// or the page comes back into view (app.svelte.ts). What an answer means:
// - 200: every node's record, judged in or out of contact by the gateway's clock;
// - 404: an older gateway without nodes: there are none;
// - 503 or no answer: what was shown stays (a node is not called lost for the outage: the
//   frozen banner and the bus problem say that once), with the error.
import { ApiError, type Client } from '$lib/api/client';
import type { NodeView } from '$lib/api/types';
import { lostNodes } from '$lib/util/scope';

export const NODES_POLL_MS = 5_000;

export class NodesStore {
	/** Every node, by name, as last answered. */
	nodes = $state<NodeView[]>([]);
	/** The hub's own version, as its gateway says (`null`: not known). */
	hubVersion = $state<string | null>(null);
	/** Why the last poll brought nothing new, `null` when it did. */
	error = $state<string | null>(null);
	/** The nodes out of contact, by name. */
	lost = $derived(lostNodes(this.nodes));
	private timer: ReturnType<typeof setInterval> | null = null;
	private asked = 0;
	private onVisibility = () => {
		if (typeof document === 'undefined') return;
		if (document.visibilityState === 'visible') this.resume();
		else this.pause();
	};

	constructor(
		private readonly client: () => Pick<Client, 'nodes'>,
		private readonly everyMs = NODES_POLL_MS
	) {}

	/** The node named `name`, if known. */
	byName(name: string | null | undefined): NodeView | undefined {
		return name ? this.nodes.find((n) => n.name === name) : undefined;
	}

	/** Asks once; a late answer to an older question is dropped. */
	async refresh(): Promise<void> {
		const ask = ++this.asked;
		try {
			const body = await this.client().nodes();
			if (ask !== this.asked) return;
			if (!body || !Array.isArray(body.nodes)) {
				this.error = 'the gateway answered with something that is not nodes';
				return;
			}
			this.nodes = body.nodes;
			this.hubVersion = typeof body.version === 'string' ? body.version : null;
			this.error = null;
		} catch (e) {
			if (ask !== this.asked) return;
			if (e instanceof ApiError && (e.status === 404 || e.status === 401)) {
				this.nodes = [];
				this.error = null;
			} else {
				this.error = (e as Error).message;
			}
		}
	}

	/** Polls from now on, while the page is visible. */
	start(): void {
		this.stop();
		if (typeof document !== 'undefined') document.addEventListener('visibilitychange', this.onVisibility);
		if (typeof document === 'undefined' || document.visibilityState !== 'hidden') this.resume();
	}

	stop(): void {
		if (typeof document !== 'undefined') document.removeEventListener('visibilitychange', this.onVisibility);
		this.pause();
	}

	private resume(): void {
		this.pause();
		void this.refresh();
		this.timer = setInterval(() => void this.refresh(), this.everyMs);
	}

	private pause(): void {
		if (this.timer !== null) clearInterval(this.timer);
		this.timer = null;
	}

	/** Forgets everything (signed out). */
	clear(): void {
		this.stop();
		this.asked++;
		this.nodes = [];
		this.hubVersion = null;
		this.error = null;
	}
}
