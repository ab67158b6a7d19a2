// The services' warnings and errors over /ws/logs?level=…: the gateway sends what it kept at or
// above the level, then each new entry.
import type { LogEntry } from '$lib/api/types';
import { ReconnectingSocket, type ReconnectOptions, type SocketState } from '$lib/ws';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export const LOG_LEVELS: LogLevel[] = ['debug', 'info', 'warn', 'error'];

/** Entries kept in the page. */
export const LOGS_KEPT = 500;

export class LogsStore {
	entries = $state<LogEntry[]>([]);
	level = $state<LogLevel>('warn');
	state = $state<SocketState>('idle');
	private socket: ReconnectingSocket;
	private pending: LogEntry[] = [];
	private flushQueued = false;

	constructor(url: (level: LogLevel) => string, options: Partial<ReconnectOptions> = {}) {
		this.socket = new ReconnectingSocket({
			...options,
			url: () => url(this.level),
			onMessage: (data, first) => this.receive(data, first),
			onState: (state) => (this.state = state)
		});
	}

	receive(data: string, first: boolean): void {
		let entry: LogEntry;
		try {
			entry = JSON.parse(data) as LogEntry;
		} catch {
			return;
		}
		// A new connection replays what the gateway kept: start over rather than duplicate.
		if (first) {
			this.entries = [];
			this.pending = [];
		}
		this.pending.push(entry);
		// The replay is up to 200 messages at once: one update for the lot.
		if (!this.flushQueued) {
			this.flushQueued = true;
			queueMicrotask(() => this.flush());
		}
	}

	flush(): void {
		this.flushQueued = false;
		if (this.pending.length === 0) return;
		const all = [...this.entries, ...this.pending];
		this.pending = [];
		this.entries = all.length > LOGS_KEPT ? all.slice(all.length - LOGS_KEPT) : all;
	}

	setLevel(level: LogLevel): void {
		if (level === this.level) return;
		this.level = level;
		if (this.state !== 'idle') this.socket.restart();
	}

	connect(): void {
		this.socket.start();
	}

	disconnect(): void {
		this.socket.stop();
	}
}
