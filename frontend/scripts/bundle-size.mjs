// Bundle size of the built dashboard (run after `npm run build`; `npm run size`).
//
// "Initial JS" is what the browser loads to show the overview (/): SvelteKit's two entries and
// everything the root layout's node and the / page's node import statically, gzipped (as the
// gateway serves it). The hls.js chunk is loaded only by the camera view, on demand, and is
// reported apart. Exits 1 when the initial JS is over the budget.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BUDGET_KB = Number(process.env.INITIAL_JS_BUDGET_KB ?? 120);
const out = join(root, '.svelte-kit/output/client');
const build = join(root, 'build');

const manifest = JSON.parse(readFileSync(join(out, '.vite/manifest.json'), 'utf8'));
const app = readFileSync(join(root, '.svelte-kit/generated/client-optimized/app.js'), 'utf8');
const dict = app.match(/dictionary\s*=\s*(\{[^}]*\})/);
if (!dict) throw new Error('cannot find the route dictionary in the generated app.js');
// {"/": [2], "/camera": [3]}: the node indices of each route (negative: with a server load).
const routes = JSON.parse(dict[1].replace(/([{,]\s*)"?([^":,\s]+)"?\s*:/g, '$1"$2":'));
const pageNode = Math.abs(routes['/']?.at(-1) ?? 2);

const key = (file) => Object.keys(manifest).find((k) => k.endsWith(file));
const starts = [
	Object.keys(manifest).find((k) => manifest[k].isEntry && manifest[k].file.includes('entry/start')),
	Object.keys(manifest).find((k) => manifest[k].isEntry && manifest[k].file.includes('entry/app')),
	key('client-optimized/nodes/0.js'),
	key(`client-optimized/nodes/${pageNode}.js`)
];
if (starts.some((s) => !s)) throw new Error(`manifest entries missing: ${starts}`);

const initial = new Set();
const css = new Set();
const walk = (k) => {
	const e = manifest[k];
	if (!e || initial.has(e.file)) return;
	initial.add(e.file);
	for (const c of e.css ?? []) css.add(c);
	for (const i of e.imports ?? []) walk(i);
};
starts.forEach(walk);

const gz = (file) => gzipSync(readFileSync(join(build, file)), { level: 9 }).length;
const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
const sum = (files) => [...files].reduce((a, f) => a + gz(f), 0);

const allJs = [];
const walkDir = (dir) => {
	for (const name of readdirSync(dir)) {
		const p = join(dir, name);
		if (statSync(p).isDirectory()) walkDir(p);
		else if (name.endsWith('.js')) allJs.push(p.slice(build.length + 1));
	}
};
walkDir(join(build, '_app'));
const hlsKey = Object.keys(manifest).find((k) => k.includes('node_modules/hls.js'));
const hls = hlsKey ? manifest[hlsKey].file : null;

const initialJs = sum(initial);
const rawInitial = [...initial].reduce((a, f) => a + statSync(join(build, f)).size, 0);
const totalJs = sum(allJs);
const hlsJs = hls ? gz(hls) : 0;
const initialCss = sum(css);

console.log(`initial JS (/, gzip):        ${kb(initialJs)} in ${initial.size} files (${kb(rawInitial)} raw)`);
console.log(`initial CSS (/, gzip):       ${kb(initialCss)}`);
console.log(`all JS (gzip):               ${kb(totalJs)} in ${allJs.length} files`);
console.log(`hls.js chunk (gzip, lazy):   ${hls ? kb(hlsJs) : 'none'}`);
console.log(`all JS without hls.js (gz):  ${kb(totalJs - hlsJs)}`);
console.log(`budget for initial JS:       ${BUDGET_KB} KB`);
if (hls && initial.has(hls)) {
	console.error('hls.js is in the initial bundle: it must be loaded on demand');
	process.exit(1);
}
if (initialJs > BUDGET_KB * 1024) {
	console.error(`initial JS ${kb(initialJs)} is over the ${BUDGET_KB} KB budget`);
	process.exit(1);
}
