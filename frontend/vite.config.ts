import { sveltekit } from '@sveltejs/kit/vite';
import { defineConfig } from 'vitest/config';

// Node's environment, without pulling in @types/node for two lookups.
const env = (globalThis as unknown as { process: { env: Record<string, string | undefined> } })
	.process.env;

// `npm run dev` talks to a gateway on GATEWAY (default the one `sense-pulse run` starts).
const gateway = env.GATEWAY ?? 'http://127.0.0.1:8080';

export default defineConfig({
	plugins: [sveltekit()],
	server: {
		proxy: {
			'/api': gateway,
			'/health': gateway,
			'/ws': { target: gateway.replace(/^http/, 'ws'), ws: true }
		}
	},
	test: {
		include: ['src/**/*.test.ts'],
		environment: 'jsdom',
		// The theme test reads app.css (?raw); other CSS stays unprocessed in tests.
		css: { include: [/app\.css/] }
	},
	// Components under test are compiled for the browser, not for SSR.
	resolve: env.VITEST ? { conditions: ['browser'] } : undefined
});
