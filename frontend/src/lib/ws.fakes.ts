// Test doubles for the reconnecting socket: a WebSocket driven by hand and timers on a virtual
// clock. Used by the unit tests only (nothing in the app imports this).
import type { SocketLike, Timers } from './ws';

export class FakeSocket implements SocketLike {
	onopen: SocketLike['onopen'] = null;
	onmessage: SocketLike['onmessage'] = null;
	onclose: SocketLike['onclose'] = null;
	onerror: SocketLike['onerror'] = null;
	closed = false;
	constructor(readonly url: string) {}
	close() {
		this.closed = true;
	}
	open() {
		this.onopen?.({});
	}
	message(data: string) {
		this.onmessage?.({ data });
	}
	drop() {
		this.onclose?.({ code: 1006 });
	}
}

export class FakeTimers implements Timers {
	pending: Array<{ fn: () => void; ms: number; id: number; due: number }> = [];
	/** Virtual milliseconds, moved by `advance`. */
	now = 0;
	private next = 1;
	set(fn: () => void, ms: number) {
		const id = this.next++;
		this.pending.push({ fn, ms, id, due: this.now + ms });
		return id;
	}
	clear(handle: unknown) {
		this.pending = this.pending.filter((p) => p.id !== handle);
	}
	/** Runs the next timer; returns its delay. */
	fire(): number {
		const t = this.pending.shift();
		if (!t) throw new Error('no timer');
		this.now = Math.max(this.now, t.due);
		t.fn();
		return t.ms;
	}
	/** Moves the virtual clock on by `ms`, running the timers that fall due, in order. */
	advance(ms: number): void {
		const end = this.now + ms;
		for (;;) {
			const due = this.pending.filter((p) => p.due <= end).sort((a, b) => a.due - b.due)[0];
			if (!due) break;
			this.pending = this.pending.filter((p) => p !== due);
			this.now = due.due;
			due.fn();
		}
		this.now = end;
	}
}
