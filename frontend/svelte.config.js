import adapter from '@sveltejs/adapter-static';
import { vitePreprocess } from '@sveltejs/vite-plugin-svelte';

/** @type {import('@sveltejs/kit').Config} */
const config = {
	preprocess: vitePreprocess(),
	compilerOptions: { runes: true },
	kit: {
		// A single-page app: the gateway serves index.html for every client-side route.
		// precompress: the gateway serves the .gz next to a file to clients that accept gzip.
		adapter: adapter({ pages: 'build', assets: 'build', fallback: 'index.html', precompress: true })
	}
};

export default config;
