import { describe, expect, test, vi } from 'vitest';
import { ApiError, createClient } from './client';

function fakeFetch(status: number, body: unknown) {
	return vi.fn(async (_url: RequestInfo | URL, _init?: RequestInit) =>
		new Response(body === undefined ? '' : JSON.stringify(body), { status })
	);
}

describe('API client', () => {
	test('GETs JSON from the page origin, marked as the app (no browser login dialog)', async () => {
		const f = fakeFetch(200, { system: { readings: {}, status: null } });
		const api = createClient(f as typeof fetch);
		const all = await api.sources();
		expect(all.system!.status).toBeNull();
		const [url, init] = f.mock.calls[0]!;
		expect(url).toBe('/api/sources');
		expect(new Headers(init!.headers).get('X-Requested-With')).toBe('sense-pulse');
		expect(init!.credentials).toBe('same-origin');
	});

	test('commands POST {action, params} and return the data', async () => {
		const f = fakeFetch(200, { success: true, message: 'ok', data: { devices: [] }, error: null });
		const api = createClient(f as typeof fetch);
		const r = await api.command('orchestrator', 'scan_aranet4');
		expect(r.data).toEqual({ devices: [] });
		const [url, init] = f.mock.calls[0]!;
		expect(url).toBe('/api/command/orchestrator');
		expect(init!.method).toBe('POST');
		expect(JSON.parse(init!.body as string)).toEqual({ action: 'scan_aranet4', params: {} });
		expect(new Headers(init!.headers).get('Content-Type')).toBe('application/json');
	});

	test('a refused config write is an ApiError naming the field', async () => {
		const f = fakeFetch(400, { error: 'display.rotation: must be one of 0, 90, 180, 270 (got 45)', field: 'display.rotation' });
		const api = createClient(f as typeof fetch);
		const e = await api.saveConfig({ display: { rotation: 45 } }).catch((e) => e);
		expect(e).toBeInstanceOf(ApiError);
		expect(e.status).toBe(400);
		expect(e.field).toBe('display.rotation');
		expect(e.message).toMatch(/must be one of/);
	});

	test('401 calls onUnauthorized; an unreachable gateway is status 0', async () => {
		const onUnauthorized = vi.fn();
		const api = createClient(fakeFetch(401, { error: 'credentials required' }) as typeof fetch, { onUnauthorized });
		const e = await api.config().catch((e) => e);
		expect(e.unauthorized).toBe(true);
		expect(onUnauthorized).toHaveBeenCalledOnce();
		const down = createClient((async () => {
			throw new TypeError('fetch failed');
		}) as typeof fetch);
		const e2 = await down.sources().catch((e) => e);
		expect(e2.status).toBe(0);
		expect(e2.message).toMatch(/cannot reach the gateway/);
	});

	test('a history batch names its series (`:` kept, the rest URL-encoded) and its range', async () => {
		const f = fakeFetch(200, { range: '7d', resolution: 300, from: 0, to: 1, series: {} });
		const h = await createClient(f as typeof fetch).historyBatch(['sensors:temperature', 'co2:office:co2', 'x:a b,c'], '7d');
		expect(f.mock.calls[0]![0]).toBe('/api/history?series=sensors:temperature,co2:office:co2,x:a%20b%2Cc&range=7d');
		expect(h.resolution).toBe(300);
	});
});
