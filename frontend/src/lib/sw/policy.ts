// What the service worker (src/service-worker.ts) does with each request, as pure functions so
// all of it is unit-tested without a worker:
//
// - `shell`: the built app and the static files (`$service-worker`'s `build` and `files`):
//   cache first, precached at install, in a cache named by the build's version;
// - `page`: a navigation (the SPA's routes): the network, else the cached `/` (index.html), so
//   the installed app opens offline;
// - `api`: the few same-origin GETs whose last answer is kept for offline (`OFFLINE_API`): the
//   network, else the last 200 answer, marked with when it was saved (`SAVED_AT_HEADER`) so the
//   dashboard says the values are old and since when, never live;
// - `network`: everything else, untouched: other API calls and commands, the camera's HLS
//   stream (`/api/stream/*`), /health, /metrics, other origins. (WebSockets never pass through a
//   service worker.)
//
// The kept answers belong to whoever was signed in: signing in or out (or any 401) clears them,
// so the next person on this device never sees them.

/** The API answers kept for offline: the sources, the alerts, and the session (without it the
 *  app cannot tell it may show anything). Exact paths, query ignored. */
export const OFFLINE_API = ['/api/sources', '/api/alerts', '/api/session'] as const;

/** Paths whose use changes who is signed in: the kept answers are cleared on them. */
export const SIGN_IN_PATHS = ['/api/login', '/api/logout'] as const;

/** The header a kept answer carries when the worker serves it instead of the network: the Unix
 *  seconds it was saved at. */
export const SAVED_AT_HEADER = 'x-sense-pulse-saved-at';

/** The cache of the app shell for one build. */
export const shellCache = (version: string) => `sense-pulse-shell-${version}`;
/** The cache of the kept API answers (one, whatever the build: the data outlives an update). */
export const API_CACHE = 'sense-pulse-api';

export type Strategy = 'shell' | 'page' | 'api' | 'network';

export interface RequestLike {
	method: string;
	url: string;
	/** `navigate` for a page load. */
	mode?: string;
}

/**
 * What to do with `request` seen by the worker of `origin` (`self.location.origin`), given the
 * shell's paths (`build` and `files`).
 */
export function strategy(request: RequestLike, origin: string, shell: ReadonlySet<string>): Strategy {
	if (request.method !== 'GET') return 'network';
	let url: URL;
	try {
		url = new URL(request.url);
	} catch {
		return 'network';
	}
	if (url.origin !== origin) return 'network';
	const path = url.pathname;
	if (path.startsWith('/api/') || path.startsWith('/ws/') || path === '/health' || path === '/metrics')
		return (OFFLINE_API as readonly string[]).includes(path) ? 'api' : 'network';
	if (request.mode === 'navigate') return 'page';
	return shell.has(path) ? 'shell' : 'network';
}

/** Whether a request clears the kept API answers: signing in or out. */
export function clearsApi(request: RequestLike, origin: string): boolean {
	try {
		const url = new URL(request.url);
		return url.origin === origin && (SIGN_IN_PATHS as readonly string[]).includes(url.pathname);
	} catch {
		return false;
	}
}

export interface ResponseLike {
	status: number;
	/** `basic` for a same-origin answer. */
	type: string;
	headers: { get(name: string): string | null };
}

/** Whether an API answer may be kept: a same-origin 200. (The gateway marks every API answer
 *  `Cache-Control: no-store`, for the browser's HTTP cache and any proxy: this is not that cache
 *  but the app's own copy of three answers, for offline, cleared with the session.) */
export function keepable(response: ResponseLike): boolean {
	return response.status === 200 && (response.type === 'basic' || response.type === 'default');
}

/** What an API answer from the network means for the kept ones: `keep` it, `clear` all of them
 *  (a 401: the session ended, they are someone else's now), or `leave` them (a 503 while the
 *  bus is down, a 404…: the last good answer stays the last good answer). */
export function onApiAnswer(response: ResponseLike): 'keep' | 'clear' | 'leave' {
	if (response.status === 401 || response.status === 403) return 'clear';
	return keepable(response) ? 'keep' : 'leave';
}

/** The shell's paths: the built files, the static ones, and `/` (index.html, the SPA's one
 *  page). `base` is SvelteKit's `base` (none here). */
export function shellPaths(build: readonly string[], files: readonly string[], base = ''): string[] {
	return [...new Set([`${base}/`, ...build, ...files])];
}

/** When a kept answer was saved (Unix seconds), from its `SAVED_AT_HEADER`; `null` for an answer
 *  that came from the network. */
export function savedAt(headers: { get(name: string): string | null } | undefined): number | null {
	const v = headers?.get(SAVED_AT_HEADER);
	if (!v) return null;
	const n = Number(v);
	return Number.isFinite(n) && n > 0 ? n : null;
}
