// The network camera: start and stop (through the orchestrator, which launches it on demand),
// thumbnails, PTZ moves. Its state is the `network_camera` readings in the sources store.
import type { Client } from '$lib/api/client';
import type { PtzDirection } from '$lib/api/types';

export type StreamStatus = 'stopped' | 'starting' | 'streaming' | 'reconnecting' | 'error';

/** Where the gateway serves the camera's HLS playlist. */
export const PLAYLIST = '/api/stream/stream.m3u8';

export class CameraStore {
	/** A command on its way. */
	pending = $state<'start' | 'stop' | null>(null);
	error = $state<string | null>(null);
	thumbnail = $state<string | null>(null);
	thumbnailAt = $state<number | null>(null);
	ptzError = $state<string | null>(null);

	constructor(private readonly client: Pick<Client, 'command'>) {}

	async start(): Promise<void> {
		await this.run('start', () => this.client.command('orchestrator', 'start_camera'));
	}

	async stop(): Promise<void> {
		await this.run('stop', () => this.client.command('orchestrator', 'stop_camera'));
		this.thumbnail = null;
	}

	private async run(what: 'start' | 'stop', fn: () => Promise<unknown>): Promise<void> {
		this.pending = what;
		this.error = null;
		try {
			await fn();
		} catch (e) {
			this.error = (e as Error).message;
		} finally {
			this.pending = null;
		}
	}

	/** Asks for a fresh thumbnail (the camera reuses one for 30 s). */
	async refreshThumbnail(): Promise<void> {
		try {
			const reply = await this.client.command('network_camera', 'thumbnail');
			const url = reply.data.url;
			const at = reply.data.taken_at;
			if (typeof url === 'string') {
				this.thumbnailAt = typeof at === 'number' ? at : Date.now() / 1000;
				this.thumbnail = `${url}?t=${Math.round(this.thumbnailAt)}`;
			}
		} catch {
			/* no thumbnail: the card shows none */
		}
	}

	async ptz(direction: PtzDirection): Promise<void> {
		try {
			await this.client.command('network_camera', 'ptz_move', { direction });
			this.ptzError = null;
		} catch (e) {
			this.ptzError = (e as Error).message;
			throw e;
		}
	}
}

/** The stream's state from its readings; a camera that is not running has none: stopped. */
export function streamStatus(
	source: { readings: Record<string, { value: unknown }>; status: unknown } | undefined
): StreamStatus {
	const v = source?.readings.stream_status?.value;
	if (!source?.status) return 'stopped';
	return v === 'starting' || v === 'streaming' || v === 'reconnecting' || v === 'error' ? v : 'stopped';
}

/**
 * How long the stream has been up, as of `now` (Unix seconds). The camera writes `stream_uptime`
 * when its state changes and at each poll, so the reading is that many seconds as of its
 * timestamp; while the stream is still going (and the feed is live, `frozen` false) it has run
 * on since. `null` when there is no such reading.
 */
export function streamUptime(
	reading: { value: unknown; timestamp: number } | undefined,
	now: number,
	going: boolean
): number | null {
	const v = reading?.value;
	if (typeof v !== 'number' || !Number.isFinite(v) || !reading) return null;
	return going ? v + Math.max(0, now - reading.timestamp) : v;
}
