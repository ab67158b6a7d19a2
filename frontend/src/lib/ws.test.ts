import { describe, expect, test } from 'vitest';
import { ReconnectingSocket, wsUrl } from './ws';
import { FakeSocket, FakeTimers } from './ws.fakes';

function setup(idleTimeoutMs?: number) {
	const sockets: FakeSocket[] = [];
	const timers = new FakeTimers();
	const messages: Array<[string, boolean]> = [];
	const states: string[] = [];
	const ws = new ReconnectingSocket({
		idleTimeoutMs,
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

	test('without idleTimeoutMs a silent connection is left alone', () => {
		const { ws, sockets, timers, last } = setup();
		ws.start();
		last().open();
		timers.advance(3_600_000);
		expect(sockets).toHaveLength(1);
		expect(last().closed).toBe(false);
	});

	test('an open connection silent for idleTimeoutMs is closed and retried', () => {
		const { ws, sockets, timers, last, states, messages } = setup(25_000);
		ws.start();
		last().open();
		last().message('full');
		// Messages every 10 s keep it: the watchdog restarts at each.
		for (let i = 0; i < 5; i++) {
			timers.advance(10_000);
			last().message('keepalive');
		}
		timers.advance(24_999);
		expect(sockets).toHaveLength(1);
		expect(states[states.length - 1]).toBe('open');
		timers.advance(1);
		expect(sockets[0]!.closed).toBe(true);
		expect(states[states.length - 1]).toBe('closed');
		// It had delivered messages: the retry comes after 1 s, and its first message is a snapshot.
		timers.advance(999);
		expect(sockets).toHaveLength(1);
		timers.advance(1);
		expect(sockets).toHaveLength(2);
		last().open();
		last().message('again');
		expect(messages[messages.length - 1]).toEqual(['again', true]);
		// The dead socket's late events change nothing.
		sockets[0]!.message('ghost');
		sockets[0]!.drop();
		expect(messages[messages.length - 1]).toEqual(['again', true]);
		expect(sockets).toHaveLength(2);
		expect(states[states.length - 1]).toBe('open');
	});

	test('a connection silent from the start backs off like one that drops', () => {
		const { ws, sockets, timers, last } = setup(25_000);
		ws.start();
		last().open();
		timers.advance(25_000);
		expect(sockets[0]!.closed).toBe(true);
		timers.advance(1000);
		last().open();
		timers.advance(25_000);
		expect(sockets[1]!.closed).toBe(true);
		// Two silent connections: the third attempt waits 2 s.
		timers.advance(1999);
		expect(sockets).toHaveLength(2);
		timers.advance(1);
		expect(sockets).toHaveLength(3);
	});

	test('the watchdog is off while closed or stopped', () => {
		const { ws, sockets, timers, last } = setup(25_000);
		ws.start();
		last().open();
		last().drop();
		// Only the retry is pending, not a watchdog of the dropped socket.
		expect(timers.pending.map((p) => p.ms)).toEqual([1000]);
		timers.advance(1000);
		last().open();
		ws.stop();
		expect(timers.pending).toHaveLength(0);
		timers.advance(60_000);
		expect(sockets).toHaveLength(2);
	});

	test('wsUrl follows the page: ws: on http, wss: on https', () => {
		expect(wsUrl('/ws/grid', { protocol: 'http:', host: 'pi:8080' })).toBe('ws://pi:8080/ws/grid');
		expect(wsUrl('/ws/grid', { protocol: 'https:', host: 'pi.ts.net' })).toBe('wss://pi.ts.net/ws/grid');
	});
});
