// A WebSocket that reconnects with exponential backoff: 1 s, 2 s, 4 s, … up to 30 s, back to
// 1 s once a connection has delivered a message (a server that accepts and drops at once is not
// hammered). With `idleTimeoutMs`, an open connection that stays silent that long is taken for
// dead (a half-open TCP connection after Wi-Fi or the Pi went away never fires `close` by
// itself): it is closed and retried like any drop. Plain TypeScript with injectable WebSocket and
// timers, so it is tested without a browser; the stores wrap it in runes.

export type SocketState = 'idle' | 'connecting' | 'open' | 'closed';

/** The part of the browser's WebSocket used here. */
export interface SocketLike {
	onopen: ((ev: unknown) => void) | null;
	onmessage: ((ev: { data: unknown }) => void) | null;
	onclose: ((ev: { code?: number }) => void) | null;
	onerror: ((ev: unknown) => void) | null;
	close(code?: number, reason?: string): void;
}

export interface Timers {
	set(fn: () => void, ms: number): unknown;
	clear(handle: unknown): void;
}

export interface ReconnectOptions {
	/** The URL, asked again at each attempt (a filter may have changed). */
	url: () => string;
	/** Each text message; `first` is true for the first message of a connection (a snapshot). */
	onMessage: (data: string, first: boolean) => void;
	onState?: (state: SocketState, retryInMs: number | null) => void;
	create?: (url: string) => SocketLike;
	timers?: Timers;
	initialDelayMs?: number;
	maxDelayMs?: number;
	/** Close and retry an open connection when no message arrived for this long (only for a
	 *  server that promises a message at least every so often; unset: wait for `close`). */
	idleTimeoutMs?: number;
}

const browserTimers: Timers = {
	set: (fn, ms) => setTimeout(fn, ms),
	clear: (h) => clearTimeout(h as ReturnType<typeof setTimeout>)
};

/** `ws://` or `wss://` URL of a path on the page's own host. */
export function wsUrl(path: string, location: { protocol: string; host: string } = window.location) {
	return `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}${path}`;
}

export class ReconnectingSocket {
	state: SocketState = 'idle';
	/** Failed attempts since the last good connection. */
	attempts = 0;
	private socket: SocketLike | null = null;
	private timer: unknown = null;
	/** The silence watchdog of the open connection (`idleTimeoutMs`). */
	private idleTimer: unknown = null;
	private stopped = true;
	private readonly initial: number;
	private readonly max: number;
	private readonly timers: Timers;
	private readonly create: (url: string) => SocketLike;

	constructor(private readonly options: ReconnectOptions) {
		this.initial = options.initialDelayMs ?? 1000;
		this.max = options.maxDelayMs ?? 30_000;
		this.timers = options.timers ?? browserTimers;
		this.create = options.create ?? ((url) => new WebSocket(url) as unknown as SocketLike);
	}

	/** The wait before the next attempt after `attempts` failures. */
	delay(attempts = this.attempts): number {
		return Math.min(this.max, this.initial * 2 ** Math.max(0, attempts - 1));
	}

	start(): void {
		if (!this.stopped) return;
		this.stopped = false;
		this.open();
	}

	stop(): void {
		this.stopped = true;
		this.clearTimer();
		this.drop(1000, 'bye');
		this.setState('idle', null);
	}

	/** Reconnects now (a new filter, or the page came back to the foreground). */
	restart(): void {
		this.stop();
		this.attempts = 0;
		this.start();
	}

	/** If waiting to retry, retry now (e.g. the network came back). */
	retryNow(): void {
		if (this.stopped || this.socket) return;
		this.clearTimer();
		this.open();
	}

	private open(): void {
		this.setState('connecting', null);
		let socket: SocketLike;
		try {
			socket = this.create(this.options.url());
		} catch {
			this.scheduleRetry();
			return;
		}
		this.socket = socket;
		let first = true;
		socket.onopen = () => {
			this.setState('open', null);
			this.watch();
		};
		socket.onmessage = (ev) => {
			this.watch();
			if (typeof ev.data !== 'string') return;
			if (first) this.attempts = 0;
			const wasFirst = first;
			first = false;
			this.options.onMessage(ev.data, wasFirst);
		};
		socket.onerror = () => {};
		socket.onclose = () => {
			if (this.socket !== socket) return;
			this.socket = null;
			this.clearIdle();
			this.scheduleRetry();
		};
	}

	/** (Re)arms the silence watchdog: called on open and on every message. */
	private watch(): void {
		const ms = this.options.idleTimeoutMs;
		if (ms === undefined) return;
		this.clearIdle();
		this.idleTimer = this.timers.set(() => {
			this.idleTimer = null;
			if (this.stopped || !this.socket) return;
			// 4000: an application code (the browser refuses to send 1006 itself).
			this.drop(4000, 'silent');
			this.scheduleRetry();
		}, ms);
	}

	/** Detaches and closes the current socket, if any (its late `close` event is not a drop). */
	private drop(code: number, reason: string): void {
		this.clearIdle();
		const s = this.socket;
		this.socket = null;
		if (s) {
			s.onclose = s.onmessage = s.onerror = s.onopen = null;
			s.close(code, reason);
		}
	}

	private scheduleRetry(): void {
		if (this.stopped) return;
		this.attempts += 1;
		const wait = this.delay();
		this.setState('closed', wait);
		this.clearTimer();
		this.timer = this.timers.set(() => {
			this.timer = null;
			if (!this.stopped) this.open();
		}, wait);
	}

	private clearTimer(): void {
		if (this.timer !== null) this.timers.clear(this.timer);
		this.timer = null;
	}

	private clearIdle(): void {
		if (this.idleTimer !== null) this.timers.clear(this.idleTimer);
		this.idleTimer = null;
	}

	private setState(state: SocketState, retryIn: number | null): void {
		this.state = state;
		this.options.onState?.(state, retryIn);
	}
}
