// Hold-to-repeat for the PTZ pad: runs `action` at once, then again `everyMs` after each run
// ends, until stopped. Never two runs at once (a slow camera is not flooded), and the gateway's
// command limit (30 per 10 s per client) is respected with `everyMs` ≥ 400.
export interface RepeatTimers {
	set(fn: () => void, ms: number): unknown;
	clear(handle: unknown): void;
}

const defaultTimers: RepeatTimers = {
	set: (fn, ms) => setTimeout(fn, ms),
	clear: (h) => clearTimeout(h as ReturnType<typeof setTimeout>)
};

export class Repeater {
	private running = false;
	private timer: unknown = null;
	/** Runs done since the last start. */
	count = 0;

	constructor(
		private readonly everyMs = 500,
		private readonly timers: RepeatTimers = defaultTimers
	) {}

	get active(): boolean {
		return this.running;
	}

	start(action: () => Promise<unknown> | unknown): void {
		this.stop();
		this.running = true;
		this.count = 0;
		const run = async () => {
			if (!this.running) return;
			this.count++;
			try {
				await action();
			} catch {
				/* the caller shows errors; keep repeating while held */
			}
			if (this.running) this.timer = this.timers.set(run, this.everyMs);
		};
		void run();
	}

	stop(): void {
		this.running = false;
		if (this.timer !== null) this.timers.clear(this.timer);
		this.timer = null;
	}
}
