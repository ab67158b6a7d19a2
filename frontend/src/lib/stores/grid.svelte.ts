// The LED matrix as the Sense HAT service publishes it (`matrix:state`), over /ws/grid.
import type { MatrixState } from '$lib/api/types';
import { ReconnectingSocket, type ReconnectOptions, type SocketState } from '$lib/ws';

export class GridStore {
	matrix = $state<MatrixState | null>(null);
	state = $state<SocketState>('idle');
	/** Unix seconds of the last frame. */
	updated = $state<number | null>(null);
	private socket: ReconnectingSocket;
	private users = 0;

	constructor(url: () => string, options: Partial<ReconnectOptions> = {}) {
		this.socket = new ReconnectingSocket({
			...options,
			url,
			onMessage: (data) => this.receive(data),
			onState: (state) => (this.state = state)
		});
	}

	receive(data: string): void {
		try {
			const m = JSON.parse(data) as MatrixState;
			if (!Array.isArray(m.pixels)) return;
			this.matrix = m;
			this.updated = Date.now() / 1000;
		} catch {
			/* not a matrix state */
		}
	}

	/** Shows what a command just did before the next frame arrives. */
	setLocal(patch: Partial<MatrixState>): void {
		if (this.matrix) this.matrix = { ...this.matrix, ...patch };
	}

	/** Counted: the socket stays open while any view shows the matrix. */
	acquire(): () => void {
		if (this.users++ === 0) this.socket.start();
		let released = false;
		return () => {
			if (released) return;
			released = true;
			if (--this.users === 0) this.socket.stop();
		};
	}
}

/** The 64 pixels as the physical LEDs show them: the picture turned by `rotation` (the same
 *  mapping as the Rust `Frame::for_rotation`). Row-major, row 0 at the top of the unturned
 *  matrix. */
export function asWired(
	pixels: ReadonlyArray<readonly [number, number, number]>,
	rotation: number
): Array<[number, number, number]> {
	const out: Array<[number, number, number]> = Array.from({ length: 64 }, () => [0, 0, 0]);
	for (let y = 0; y < 8; y++) {
		for (let x = 0; x < 8; x++) {
			let px = x;
			let py = y;
			if (rotation === 90) [px, py] = [y, 7 - x];
			else if (rotation === 180) [px, py] = [7 - x, 7 - y];
			else if (rotation === 270) [px, py] = [7 - y, x];
			const p = pixels[y * 8 + x];
			if (p) out[py * 8 + px] = [p[0], p[1], p[2]];
		}
	}
	return out;
}
