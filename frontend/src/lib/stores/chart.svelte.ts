// Which reading's 24 h chart is open (one dialog for the whole app).
export interface ChartTarget {
	source: string;
	sensor: string;
	label: string;
	unit: string | null;
}

export class ChartStore {
	target = $state<ChartTarget | null>(null);
	/** Where focus goes back to when the dialog closes. */
	opener: HTMLElement | null = null;

	open(target: ChartTarget, opener?: HTMLElement | null): void {
		this.opener = opener ?? null;
		this.target = target;
	}

	close(): void {
		this.target = null;
		this.opener?.focus();
		this.opener = null;
	}
}

export const chart = new ChartStore();
