// The services' warnings and errors over /ws/logs?level=…: the gateway sends what it kept at or
// above the level, then each new entry.
import type { LogEntry } from '$lib/api/types';
import { ReconnectingSocket, type ReconnectOptions, type SocketState } from '$lib/ws';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export const LOG_LEVELS: LogLevel[] = ['debug', 'info', 'warn', 'error'];

/** Entries kept in the page. */
export const LOGS_KEPT = 500;

/** Identical lines (same level, service and message) shown once: the latest, with how many
 *  times and since when. */
export interface LogGroup {
	key: string;
	/** The latest of them. */
	entry: LogEntry;
	count: number;
	/** When the first of them was logged (Unix seconds). */
	first: number;
}

/** Groups identical lines, wherever they are among the others: each group stands where its
 *  latest line does, so the order is still that of the latest news. */
export function groupLogs(entries: readonly LogEntry[]): LogGroup[] {
	const groups = new Map<string, LogGroup>();
	for (const entry of entries) {
		const key = `${entry.level}\u0000${entry.service}\u0000${entry.message}`;
		const group = groups.get(key);
		if (group) {
			// Re-inserted: a Map keeps insertion order, so the group moves to its latest line.
			groups.delete(key);
			groups.set(key, { key, entry, count: group.count + 1, first: group.first });
		} else {
			groups.set(key, { key, entry, count: 1, first: entry.timestamp });
		}
	}
	return [...groups.values()];
}

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
