import { describe, expect, test } from 'vitest';
import { ReconnectingSocket, wsUrl, type SocketLike, type Timers } from './ws';

class FakeSocket implements SocketLike {
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

class FakeTimers implements Timers {
	pending: Array<{ fn: () => void; ms: number; id: number }> = [];
	private next = 1;
	set(fn: () => void, ms: number) {
		const id = this.next++;
		this.pending.push({ fn, ms, id });
		return id;
	}
	clear(handle: unknown) {
		this.pending = this.pending.filter((p) => p.id !== handle);
	}
	/** Runs the next timer; returns its delay. */
	fire(): number {
		const t = this.pending.shift();
		if (!t) throw new Error('no timer');
		t.fn();
		return t.ms;
	}
}

function setup() {
	const sockets: FakeSocket[] = [];
	const timers = new FakeTimers();
	const messages: Array<[string, boolean]> = [];
	const states: string[] = [];
	const ws = new ReconnectingSocket({
		url: () => 'ws://pi/ws/sources',
		onMessage: (d, first) => messages.push([d, first]),
		onState: (s) => states.push(s),
		create: (url) => {
			const s = new FakeSocket(url);
			sockets.push(s);
			return s;
		},
		timers
	});
	return { ws, sockets, timers, messages, states, last: () => sockets[sockets.length - 1]! };
}

describe('ReconnectingSocket', () => {
	test('backs off 1, 2, 4, 8, 16, 30, 30 s while the server stays away', () => {
		const { ws, timers, last } = setup();
		ws.start();
		const waits: number[] = [];
		for (let i = 0; i < 7; i++) {
			last().drop();
			waits.push(timers.fire());
		}
		expect(waits).toEqual([1000, 2000, 4000, 8000, 16000, 30000, 30000]);
	});

	test('a connection that delivered a message resets the backoff', () => {
		const { ws, timers, last } = setup();
		ws.start();
		last().drop();
		timers.fire();
		last().drop();
		expect(timers.fire()).toBe(2000);
		last().open();
		last().message('{}');
		last().drop();
		expect(timers.fire()).toBe(1000);
	});

	test('opening without a message does not reset it (no hammering a server that drops us)', () => {
		const { ws, timers, last } = setup();
		ws.start();
		last().drop();
		timers.fire();
		last().open();
		last().drop();
		expect(timers.fire()).toBe(2000);
	});

	test('the first message of each connection is flagged (the snapshot)', () => {
		const { ws, timers, last, messages } = setup();
		ws.start();
		last().message('a');
		last().message('b');
		last().drop();
		timers.fire();
		last().message('c');
		expect(messages).toEqual([
			['a', true],
			['b', false],
			['c', true]
		]);
	});

	test('stop closes and never reconnects; retryNow skips the wait', () => {
		const { ws, sockets, timers, last, states } = setup();
		ws.start();
		last().drop();
		expect(timers.pending).toHaveLength(1);
		ws.retryNow();
		expect(timers.pending).toHaveLength(0);
		expect(sockets).toHaveLength(2);
		ws.stop();
		expect(last().closed).toBe(true);
		expect(timers.pending).toHaveLength(0);
		expect(states[states.length - 1]).toBe('idle');
	});

	test('wsUrl follows the page: ws: on http, wss: on https', () => {
		expect(wsUrl('/ws/grid', { protocol: 'http:', host: 'pi:8080' })).toBe('ws://pi:8080/ws/grid');
		expect(wsUrl('/ws/grid', { protocol: 'https:', host: 'pi.ts.net' })).toBe('wss://pi.ts.net/ws/grid');
	});
});
