// The app's singletons: one client, one store per concern. Components import from here; tests
// build their own instances from the classes.
import { createClient } from '$lib/api/client';
import { AlertsStore } from '$lib/stores/alerts.svelte';
import { CameraStore } from '$lib/stores/camera.svelte';
import { Clock } from '$lib/stores/clock.svelte';
import { ConfigStore } from '$lib/stores/config.svelte';
import { GridStore } from '$lib/stores/grid.svelte';
import { HistoryStore } from '$lib/stores/history.svelte';
import { LogsStore } from '$lib/stores/logs.svelte';
import { NodesStore } from '$lib/stores/nodes.svelte';
import { PrefsStore } from '$lib/stores/prefs.svelte';
import { SessionStore } from '$lib/stores/session.svelte';
import { SOURCES_PATH, SourcesStore } from '$lib/stores/sources.svelte';
import { API_CACHE } from '$lib/sw/policy';
import { wsUrl } from '$lib/ws';

export const api = createClient((input, init) => fetch(input, init), {
	onUnauthorized: () => session.expired()
});
export const session = new SessionStore(() => api, { onSignedOut: forgetSignedIn });
export const prefs = new PrefsStore();
export const clock = new Clock();
export const config = new ConfigStore(api);
export const sources = new SourcesStore(() => wsUrl(SOURCES_PATH));
export const grid = new GridStore(() => wsUrl('/ws/grid'));
const nodeGrids = new Map<string, GridStore>();
/** The LED matrix of the hub (`null`) or of a satellite Pi (`kitchen`: `/ws/grid?node=kitchen`),
 *  one store each, made when first shown. */
export function gridOf(node: string | null): GridStore {
	if (node === null) return grid;
	let store = nodeGrids.get(node);
	if (!store) {
		store = new GridStore(() => wsUrl(`/ws/grid?node=${encodeURIComponent(node)}`));
		nodeGrids.set(node, store);
	}
	return store;
}
export const logs = new LogsStore((level) => wsUrl(`/ws/logs?level=${level}`));
export const history = new HistoryStore(api);
export const camera = new CameraStore(api);
export const alerts = new AlertsStore(() => api);
export const nodes = new NodesStore(() => api);
sources.subscribe((changed) => history.ingest(changed));
// The feed is back (or new): the alerts and the nodes may have changed meanwhile.
sources.onConnect(() => {
	void alerts.refresh();
	void nodes.refresh();
});

/** Signed out (or the session ended): what this device kept for offline is someone else's now.
 *  (The service worker also clears it when it sees the sign-out go by.) */
function forgetSignedIn(): void {
	alerts.clear();
	nodes.clear();
	void globalThis.caches?.delete(API_CACHE).catch(() => {});
}

/** Starts the live feeds once the gateway lets us in. The settings load on their own: while the
 *  data bus is down they take the bus's time-out to fail, and the live data must not wait. */
export async function startLive(): Promise<void> {
	clock.start();
	void config.load();
	alerts.start();
	nodes.start();
	await api
		.sourcesSnapshot()
		.then(({ body, savedAt }) => sources.seed(body, savedAt))
		.catch(() => {});
	sources.connect();
}

export function stopLive(): void {
	sources.disconnect();
	logs.disconnect();
	alerts.stop();
	nodes.stop();
}
