// One ticking clock for every age on the page (Unix seconds), instead of a timer per value.
export class Clock {
	now = $state(Date.now() / 1000);
	private handle: ReturnType<typeof setInterval> | null = null;

	start(periodMs = 1000): void {
		if (this.handle) return;
		this.handle = setInterval(() => (this.now = Date.now() / 1000), periodMs);
	}

	stop(): void {
		if (this.handle) clearInterval(this.handle);
		this.handle = null;
	}
}
