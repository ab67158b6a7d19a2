// What every browser test needs: the built dashboard served by `sense-pulse run --sim` on a free
// port (on the in-process bus, or on a real redis-server the test started), Debian's Chromium
// (playwright-core, no downloaded browser), and helpers that wait for what a person would see.
//
//   SENSE_PULSE_BIN   the binary (default target/debug/sense-pulse)
//   CHROMIUM          the browser (default /usr/bin/chromium)
//
// Screenshots go to artifacts/screenshots/ at the repo root.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const repo = resolve(here, '../..');
const bin = resolve(repo, process.env.SENSE_PULSE_BIN ?? 'target/debug/sense-pulse');
const build = resolve(here, '../build');
const shots = resolve(repo, 'artifacts/screenshots');
const browserPath = process.env.CHROMIUM ?? '/usr/bin/chromium';

export const DESKTOP = { width: 1280, height: 900 };
export const PHONE = { width: 360, height: 740 };

// The four ways the issue's checks look at a page: 1280 px and 390 px wide, dark and light.
export const WIDE = { width: 1280, height: 900 };
export const NARROW = { width: 390, height: 844 };
export const VIEWS = [
	{ name: 'desktop-dark', viewport: WIDE, colorScheme: 'dark' },
	{ name: 'desktop-light', viewport: WIDE, colorScheme: 'light' },
	{ name: 'phone-dark', viewport: NARROW, colorScheme: 'dark' },
	{ name: 'phone-light', viewport: NARROW, colorScheme: 'light' }
];

/** Runs `fn(view)` with the page in each view in turn (resized, the colour scheme emulated),
 *  and leaves it in the first. */
export async function inEachView(page, fn) {
	for (const view of VIEWS) {
		await page.setViewportSize(view.viewport);
		await page.emulateMedia({ colorScheme: view.colorScheme });
		// The page has laid itself out for the new size once two frames have been drawn.
		await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
		await fn(view);
	}
	await page.setViewportSize(VIEWS[0].viewport);
	await page.emulateMedia({ colorScheme: VIEWS[0].colorScheme });
}

/** Screenshots `{name}-{view}` in every view. */
export async function shotEachView(page, name) {
	await inEachView(page, async (view) => {
		// From the top: a full-page shot of a scrolled page draws the sticky header mid-page.
		await page.evaluate(() => window.scrollTo(0, 0));
		await shot(page, `${name}-${view.name}`);
	});
}

/** The scheduled sources, each polled once before a stack is handed out. */
export const SOURCES = ['sensors', 'co2', 'system', 'weather', 'pihole', 'tailscale'];

/** A TCP port nothing listened on a moment ago. */
export function freePort() {
	return new Promise((ok, fail) => {
		const s = createServer();
		s.on('error', fail);
		s.listen(0, '127.0.0.1', () => {
			const { port } = s.address();
			s.close(() => ok(port));
		});
	});
}

/** Asks `fn` until it returns something truthy (returned), for `timeoutMs` at most. */
export async function waitFor(fn, what, timeoutMs = 20_000, everyMs = 100) {
	const end = Date.now() + timeoutMs;
	let last;
	while (Date.now() < end) {
		try {
			const v = await fn();
			if (v) return v;
		} catch (e) {
			last = e;
		}
		await new Promise((r) => setTimeout(r, everyMs));
	}
	throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ''}`);
}

/** The hls.js chunk's file, from the build's manifest: it must load only for the stream. */
export function hlsChunk() {
	const manifest = JSON.parse(readFileSync(resolve(here, '../.svelte-kit/output/client/.vite/manifest.json'), 'utf8'));
	const key = Object.keys(manifest).find((k) => k.includes('node_modules/hls.js'));
	assert.ok(key, 'hls.js is in the build');
	return manifest[key].file;
}

/** Waits until the header says the dashboard is live. */
export async function live(page) {
	await page.locator('[data-testid="connection"][data-state="open"]').waitFor({ timeout: 15_000 });
}

/** A full-page screenshot in artifacts/screenshots/{name}.png. */
export async function shot(page, name) {
	mkdirSync(shots, { recursive: true });
	await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

/** No horizontal scrolling (the phone check). */
export async function assertFits(page, width) {
	const scroll = await page.evaluate(() => document.documentElement.scrollWidth);
	assert.ok(scroll <= width, `page is ${scroll}px wide at ${width}px`);
}

/** Every control has an accessible name. */
export async function assertLabelled(page) {
	const unnamed = await page.evaluate(() =>
		[...document.querySelectorAll('button, input, select, textarea, a[href]')]
			.filter((el) => el.offsetParent !== null || el.getClientRects().length)
			.filter((el) => {
				if (el.getAttribute('aria-label') || el.getAttribute('aria-labelledby')) return false;
				if (el.labels && el.labels.length) return false;
				if (el.closest('label')) return false;
				return !(el.textContent ?? '').trim() && !el.getAttribute('title');
			})
			.map((el) => el.outerHTML.slice(0, 120))
	);
	assert.deepEqual(unnamed, [], 'controls without an accessible name');
}

/** Whether `locator`'s computed `property` (`color`, `borderTopColor`…) is the theme's colour
 *  `name` (`--warn`, `--good`…) where it stands: the colour a person sees, not the class or
 *  attribute that picks it. */
export async function hasColour(locator, property, name) {
	return locator.evaluate(
		(el, [property, name]) => {
			const probe = document.createElement('span');
			probe.style.color = `var(${name})`;
			el.appendChild(probe);
			const wanted = getComputedStyle(probe).color;
			probe.remove();
			return getComputedStyle(el)[property] === wanted;
		},
		[property, name]
	);
}

/** Stops a child: SIGTERM, then SIGKILL after 5 s. */
async function stopChild(child) {
	if (!child || child.exitCode !== null || child.signalCode !== null) return;
	child.kill('SIGTERM');
	await Promise.race([new Promise((r) => child.once('exit', r)), new Promise((r) => setTimeout(r, 5000))]);
	if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

/**
 * A real `redis-server` on a free loopback port, without persistence, in a folder of its own:
 * stop() kills it (as a crash would), start() brings it back on the same port, empty.
 */
export class Redis {
	/** @type {import('node:child_process').ChildProcess | null} */
	child = null;
	port = 0;
	dir = mkdtempSync(join(tmpdir(), 'sense-e2e-redis-'));

	/** More addresses to listen on besides loopback (a veth pair's, for a satellite). */
	bind = [];

	static async start({ bind = [] } = {}) {
		const redis = new Redis();
		redis.bind = bind;
		redis.port = await freePort();
		await redis.start();
		return redis;
	}

	get url() {
		return `redis://127.0.0.1:${this.port}`;
	}

	/** Starts the server and resolves once it says it is ready. */
	async start() {
		const child = spawn(
			process.env.REDIS_SERVER_BIN ?? 'redis-server',
			['--port', String(this.port), '--bind', '127.0.0.1', ...this.bind, '--save', '', '--appendonly', 'no', '--dir', this.dir],
			{ stdio: ['ignore', 'pipe', 'pipe'] }
		);
		this.child = child;
		let log = '';
		await new Promise((ready, fail) => {
			const seen = (d) => {
				log += d;
				if (log.includes('Ready to accept connections')) ready();
			};
			child.stdout.on('data', seen);
			child.stderr.on('data', seen);
			child.once('exit', (code) => fail(new Error(`redis-server exited (${code}): ${log}`)));
		});
	}

	/** Kills the server (SIGKILL: no goodbye to its clients) and waits for its exit. */
	async stop() {
		const child = this.child;
		this.child = null;
		if (!child || child.exitCode !== null) return;
		const exited = new Promise((r) => child.once('exit', r));
		child.kill('SIGKILL');
		await exited;
	}

	async close() {
		await this.stop();
		rmSync(this.dir, { recursive: true, force: true });
	}
}

/**
 * `sense-pulse run --sim` serving the built dashboard, and a Chromium to look at it with.
 * `redis`: the URL of a real Redis to use instead of the in-process bus; `args`: more options
 * for `run` (`['--sim-node']`); `sources`: the ones to wait for the first poll of.
 */
export class Stack {
	base = '';
	/** The session cookie, once a test signed in through api(). */
	cookie = '';
	hlsDir = '';
	log = '';
	/** @type {import('node:child_process').ChildProcess | null} */
	server = null;
	/** @type {import('playwright-core').Browser | null} */
	browser = null;

	static async start({ redis = null, env = {}, sources = SOURCES, args: extra = [] } = {}) {
		assert.ok(existsSync(bin), `no sense-pulse binary at ${bin} (cargo build -p sense-pulse, or set SENSE_PULSE_BIN)`);
		assert.ok(existsSync(join(build, 'index.html')), 'the dashboard is not built (npm run build)');
		const stack = new Stack();
		stack.hlsDir = mkdtempSync(join(tmpdir(), 'sense-e2e-hls-'));
		const port = await freePort();
		stack.base = `http://127.0.0.1:${port}`;
		const args = ['run', '--sim', ...extra, '--listen', `127.0.0.1:${port}`, ...(redis ? ['--redis', redis] : [])];
		// The bus is the one asked for: `run` would use a REDIS_URL set in the environment.
		const { REDIS_URL: _redis, ...inherited } = process.env;
		const server = spawn(bin, args, {
			cwd: repo,
			env: { ...inherited, FRONTEND_DIR: build, HLS_OUTPUT_DIR: stack.hlsDir, LOG_LEVEL: 'warn', ...env },
			stdio: ['ignore', 'pipe', 'pipe']
		});
		stack.server = server;
		server.stdout.on('data', (d) => (stack.log += d));
		server.stderr.on('data', (d) => (stack.log += d));
		server.on('exit', (code) => (stack.log += `\n[sense-pulse exited ${code}]`));
		// A binary that refuses its options (one without `--sim-node`) says so at once: no minute
		// of waiting for a gateway that will never answer.
		const exited = new Promise((_, fail) =>
			server.once('exit', (code) => fail(new Error(`sense-pulse ${args.join(' ')} exited (${code}) before it was ready:\n${stack.log.slice(-2000)}`)))
		);
		exited.catch(() => {});
		const gone = () => server.exitCode !== null || server.signalCode !== null;
		try {
			await Promise.race([
				exited,
				(async () => {
					// Once it is gone, `exited` has failed the start: these stop asking.
					await waitFor(async () => gone() || (await fetch(`${stack.base}/health`)).ok, 'the gateway /health', 60_000, 200);
					// Every scheduled source has polled once.
					await waitFor(
						async () => {
							if (gone()) return true;
							const { body } = await stack.api('/api/sources');
							return sources.every((s) => body?.[s]?.status && Object.keys(body[s].readings).length);
						},
						'the first poll of every source',
						60_000,
						250
					);
				})()
			]);
			stack.browser = await chromium.launch({ executablePath: browserPath, args: ['--no-sandbox'] });
		} catch (e) {
			await stack.stop();
			throw e;
		}
		return stack;
	}

	/** JSON from the gateway (with the session cookie once signed in). */
	async api(path, init = {}) {
		const headers = { 'content-type': 'application/json', ...(this.cookie ? { cookie: this.cookie } : {}) };
		const r = await fetch(this.base + path, { ...init, headers: { ...headers, ...init.headers } });
		const body = await r.json().catch(() => null);
		return { status: r.status, body };
	}

	/** A page that records any uncaught error or console error of the app in `errors`. */
	async open(path, viewport = DESKTOP, colorScheme = 'dark') {
		const context = await this.browser.newContext({ viewport, colorScheme });
		const page = await context.newPage();
		const errors = [];
		page.on('pageerror', (e) => errors.push(e.message));
		page.on('console', (m) => m.type() === 'error' && !/Failed to load resource/.test(m.text()) && errors.push(m.text()));
		await page.goto(this.base + path);
		return { page, context, errors };
	}

	async stop() {
		await this.browser?.close();
		await stopChild(this.server);
		if (this.hlsDir) rmSync(this.hlsDir, { recursive: true, force: true });
		if (process.exitCode && this.log) console.log(this.log.slice(-4000));
	}
}
