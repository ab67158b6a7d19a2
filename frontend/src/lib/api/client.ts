// The typed API client. It takes `fetch` (SvelteKit's, the browser's or a test's), so it runs
// anywhere and is tested without a server.
import type {
	ApiErrorBody,
	CommandReply,
	CommandTarget,
	Commands,
	ConfigPatch,
	ConfigUpdated,
	ConfigView,
	JsonValue,
	Nodes,
	Session,
	SourceView,
	Sources
} from './types';
import type { Alerts } from './types';
import { savedAt } from '$lib/sw/policy';
import { historyPath, type HistoryBatch, type HistoryRange } from './history';

/** A reply other than 2xx: the status, the gateway's message and, for a refused config write,
 *  the field at fault (`display.rotation`). */
export class ApiError extends Error {
	constructor(
		readonly status: number,
		message: string,
		readonly field?: string,
		/** The parsed body, e.g. a failed command's `CommandReply`. */
		readonly body?: unknown
	) {
		super(message);
		this.name = 'ApiError';
	}

	/** The gateway wants a login. */
	get unauthorized(): boolean {
		return this.status === 401;
	}
}

type Fetch = typeof fetch;

export interface ClientOptions {
	/** Where the gateway is; '' (the default) is the page's own origin. */
	base?: string;
	/** Called on every 401, so the app can show its sign-in form. */
	onUnauthorized?: () => void;
}

/** Sends `params` to `target` and returns the service's `data`; throws `ApiError` when the
 *  service refused (400, the service's reason), was not running (503) or too slow (504). */
export type SendCommand = <T extends CommandTarget>(
	target: T,
	action: Commands[T],
	params?: Record<string, JsonValue>
) => Promise<CommandReply & { data: Record<string, JsonValue> }>;

export function createClient(fetchImpl: Fetch, options: ClientOptions = {}) {
	const base = options.base ?? '';

	/** The reply's body, and its headers (a kept answer the service worker served offline says
	 *  when it was saved). */
	async function exchange<T>(path: string, init: RequestInit = {}): Promise<{ body: T; headers: Headers }> {
		const headers = new Headers(init.headers);
		// Tells the gateway this is the app: a 401 then carries no Basic challenge, so the
		// browser shows no login dialog over the app's own form.
		headers.set('X-Requested-With', 'sense-pulse');
		if (init.body !== undefined) headers.set('Content-Type', 'application/json');
		let response: Response;
		try {
			response = await fetchImpl(base + path, { ...init, headers, credentials: 'same-origin' });
		} catch (e) {
			throw new ApiError(0, `cannot reach the gateway (${(e as Error).message})`);
		}
		const text = await response.text();
		let body: unknown = undefined;
		if (text) {
			try {
				body = JSON.parse(text);
			} catch {
				body = undefined;
			}
		}
		if (!response.ok) {
			const b = (body ?? {}) as Partial<ApiErrorBody>;
			const message = b.error ?? (text || `${response.status} ${response.statusText}`);
			if (response.status === 401) options.onUnauthorized?.();
			throw new ApiError(response.status, message, b.field, body);
		}
		return { body: body as T, headers: response.headers };
	}

	const request = <T>(path: string, init: RequestInit = {}) => exchange<T>(path, init).then((r) => r.body);
	/** A GET the service worker may answer offline with its kept copy: `savedAt` says when that
	 *  copy was saved (Unix seconds), `null` for a live answer. */
	const snapshot = <T>(path: string) =>
		exchange<T>(path).then((r) => ({ body: r.body, savedAt: savedAt(r.headers) }));

	const post = <T>(path: string, body: unknown) =>
		request<T>(path, { method: 'POST', body: JSON.stringify(body) });

	const command: SendCommand = async (target, action, params = {}) => {
		const reply = await post<CommandReply>(`/api/command/${target}`, { action, params });
		return { ...reply, data: reply.data ?? {} };
	};

	return {
		sources: () => request<Sources>('/api/sources'),
		/** `GET /api/sources`, with when it was saved if it is the offline copy. */
		sourcesSnapshot: () => snapshot<Sources>('/api/sources'),
		/** `GET /api/alerts` (404: this gateway has no alert engine; 503: the bus is down). */
		alerts: () => snapshot<Alerts>('/api/alerts'),
		/** `GET /api/nodes`: the satellite Pis, each in or out of contact (404: an older gateway,
		 *  without nodes). */
		nodes: () => request<Nodes>('/api/nodes'),
		source: (id: string) => request<SourceView>(`/api/sources/${encodeURIComponent(id)}`),
		config: () => request<ConfigView>('/api/config'),
		/** All sections or none; a refusal names the field (`ApiError.field`). */
		saveConfig: (patch: ConfigPatch) => post<ConfigUpdated>('/api/config', patch),
		command,
		/** The history of up to `MAX_SERIES` series (`{source}:{sensor}`) over `range`. */
		historyBatch: (ids: readonly string[], range: HistoryRange = '24h') =>
			request<HistoryBatch>(historyPath(ids, range)),
		session: () => request<Session>('/api/session'),
		login: (username: string, password: string) =>
			post<Session>('/api/login', { username, password }),
		logout: () => post<Session>('/api/logout', {})
	};
}

export type Client = ReturnType<typeof createClient>;
