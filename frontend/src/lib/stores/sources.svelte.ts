// Live readings and statuses of every source over /ws/sources: the first message of each
// connection is the whole snapshot (it replaces what we had, so sources whose status expired
// meanwhile become unavailable), later ones carry the sources that changed.
import type { Sources } from '$lib/api/types';
import { ReconnectingSocket, type ReconnectOptions, type SocketState } from '$lib/ws';

export class SourcesStore {
	sources = $state<Sources>({});
	state = $state<SocketState>('idle');
	/** When the next attempt is, in ms from the last failure (`null` unless waiting). */
	retryInMs = $state<number | null>(null);
	/** Unix seconds of the last message. */
	lastMessage = $state<number | null>(null);
	/** Messages received (the e2e test and the header use it). */
	messages = $state(0);
	private socket: ReconnectingSocket;
	private listeners = new Set<(update: Sources) => void>();

	constructor(url: () => string, options: Partial<ReconnectOptions> = {}) {
		this.socket = new ReconnectingSocket({
			...options,
			url,
			onMessage: (data, first) => this.receive(data, first),
			onState: (state, retry) => {
				this.state = state;
				this.retryInMs = retry;
			}
		});
	}

	/** Applies one message. */
	receive(data: string, snapshot: boolean): void {
		let update: Sources;
		try {
			update = JSON.parse(data) as Sources;
		} catch {
			return;
		}
		if (typeof update !== 'object' || update === null) return;
		this.sources = snapshot ? update : { ...this.sources, ...update };
		this.lastMessage = Date.now() / 1000;
		this.messages += 1;
		for (const l of this.listeners) l(update);
	}

	/** Replaces everything with a REST snapshot (before the socket's first message). */
	seed(all: Sources): void {
		if (this.messages === 0) this.sources = all;
	}

	/** Calls `fn` with each update (the history store appends live values). */
	subscribe(fn: (update: Sources) => void): () => void {
		this.listeners.add(fn);
		return () => this.listeners.delete(fn);
	}

	connect(): void {
		this.socket.start();
	}

	disconnect(): void {
		this.socket.stop();
	}

	retryNow(): void {
		this.socket.retryNow();
	}
}
