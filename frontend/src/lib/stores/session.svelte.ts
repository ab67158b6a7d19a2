// Whether the dashboard may talk to the gateway: auth off, signed in, or showing the sign-in
// form. The session is a cookie the gateway sets (HttpOnly: the page never holds the password).
import { ApiError, type Client } from '$lib/api/client';
import type { Simulation } from '$lib/api/types';

export type SessionState = 'checking' | 'open' | 'signed-in' | 'signed-out' | 'offline';

export class SessionStore {
	state = $state<SessionState>('checking');
	user = $state<string | null>(null);
	authEnabled = $state(false);
	error = $state<string | null>(null);
	/** Why the sign-in settings in force are not the stored ones, or why nobody can sign in. */
	problem = $state<string | null>(null);
	/** What the stack simulates (`run --sim`), `null` when it runs on real hardware. */
	simulated = $state<Simulation | null>(null);

	constructor(
		private readonly client: () => Pick<Client, 'session' | 'login' | 'logout'>,
		/** `onSignedOut`: called once signed out, or when the session ended. */
		private readonly hooks: { onSignedOut?: () => void } = {}
	) {}

	/** May the app load data? */
	get ready(): boolean {
		return this.state === 'open' || this.state === 'signed-in';
	}

	async check(): Promise<void> {
		try {
			const s = await this.client().session();
			this.authEnabled = s.auth_enabled;
			this.user = s.user;
			this.problem = s.problem ?? null;
			this.simulated = s.simulated ?? null;
			this.state = !s.auth_enabled ? 'open' : s.user ? 'signed-in' : 'signed-out';
			this.error = null;
		} catch (e) {
			this.state = 'offline';
			this.error = (e as Error).message;
		}
	}

	async login(username: string, password: string): Promise<boolean> {
		try {
			const s = await this.client().login(username, password);
			this.user = s.user;
			this.authEnabled = s.auth_enabled;
			this.state = s.auth_enabled ? 'signed-in' : 'open';
			this.error = null;
			return true;
		} catch (e) {
			this.error =
				e instanceof ApiError && e.status === 401
					? 'Wrong username or password.'
					: (e as Error).message;
			return false;
		}
	}

	async logout(): Promise<void> {
		try {
			await this.client().logout();
		} finally {
			this.user = null;
			this.state = this.authEnabled ? 'signed-out' : 'open';
			this.hooks.onSignedOut?.();
		}
	}

	/** An API call was refused (the session ended, or auth was just turned on): show the form. */
	expired(): void {
		this.authEnabled = true;
		this.state = 'signed-out';
		this.user = null;
		this.hooks.onSignedOut?.();
	}
}
