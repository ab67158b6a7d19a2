// The app's icons for the web app manifest, drawn from the favicon's design (static/favicon.svg:
// the pulse line on the dark tile) into PNGs with nothing but Node's zlib: no image library, no
// download. Run after changing the design; the PNGs are committed.
//
//   node scripts/icons.mjs      → static/icons/icon-192.png, icon-512.png, maskable-512.png
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateSync } from 'node:zlib';

const out = resolve(dirname(fileURLToPath(import.meta.url)), '../static/icons');

// The favicon's path, "M3 17h6l3-8 5 16 4-11 2 3h6" in a 32-unit box, stroke 2.5, round ends.
const PULSE = [[3, 17], [9, 17], [12, 9], [17, 25], [21, 14], [23, 17], [29, 17]];
const STROKE = 2.5;
const BG = [0x0f, 0x17, 0x2a];
const LINE = [0x38, 0xbd, 0xf8];

/** Distance from (px, py) to the segment a–b. */
function segmentDistance(px, py, [ax, ay], [bx, by]) {
	const dx = bx - ax;
	const dy = by - ay;
	const t = Math.max(0, Math.min(1, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)));
	return Math.hypot(px - (ax + t * dx), py - (ay + t * dy));
}

/** Signed distance to a rounded square of side `size` (inside negative). */
function roundedSquare(px, py, size, radius) {
	const h = size / 2;
	const qx = Math.abs(px - h) - (h - radius);
	const qy = Math.abs(py - h) - (h - radius);
	return Math.hypot(Math.max(qx, 0), Math.max(qy, 0)) + Math.min(Math.max(qx, qy), 0) - radius;
}

const clamp01 = (v) => Math.max(0, Math.min(1, v));

/**
 * RGBA pixels of one icon, `size` px square. `maskable`: the tile fills the square (the platform
 * cuts its own shape) and the line keeps to the middle 60 %, inside the safe zone; otherwise the
 * tile has the favicon's rounded corners and the line its proportions.
 */
function draw(size, maskable) {
	const px = new Uint8Array(size * size * 4);
	const scale = maskable ? (size * 0.6) / 26 : size / 32;
	const offsetX = maskable ? size * 0.2 - 3 * scale : 0;
	const offsetY = maskable ? size / 2 - 17 * scale : 0;
	const points = PULSE.map(([x, y]) => [offsetX + x * scale, offsetY + y * scale]);
	const half = (STROKE * scale) / 2;
	for (let y = 0; y < size; y++) {
		for (let x = 0; x < size; x++) {
			const cx = x + 0.5;
			const cy = y + 0.5;
			const tile = maskable ? 1 : clamp01(0.5 - roundedSquare(cx, cy, size, (6 / 32) * size));
			let d = Infinity;
			for (let i = 1; i < points.length; i++) d = Math.min(d, segmentDistance(cx, cy, points[i - 1], points[i]));
			const line = clamp01(half + 0.5 - d) * tile;
			const i = (y * size + x) * 4;
			for (let c = 0; c < 3; c++) px[i + c] = Math.round(BG[c] * (1 - line) + LINE[c] * line);
			px[i + 3] = Math.round(tile * 255);
		}
	}
	return px;
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
	let c = n;
	for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
	return c >>> 0;
});

function crc32(bytes) {
	let c = 0xffffffff;
	for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
	return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
	const head = Buffer.alloc(8);
	head.writeUInt32BE(data.length, 0);
	head.write(type, 4, 'ascii');
	const crc = Buffer.alloc(4);
	crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
	return Buffer.concat([head, data, crc]);
}

/** A PNG (8-bit RGBA, no filter) of `size`² pixels. */
function png(size, rgba) {
	const ihdr = Buffer.alloc(13);
	ihdr.writeUInt32BE(size, 0);
	ihdr.writeUInt32BE(size, 4);
	ihdr[8] = 8; // bit depth
	ihdr[9] = 6; // RGBA
	const raw = Buffer.alloc(size * (size * 4 + 1));
	for (let y = 0; y < size; y++) {
		raw[y * (size * 4 + 1)] = 0;
		Buffer.from(rgba.buffer, y * size * 4, size * 4).copy(raw, y * (size * 4 + 1) + 1);
	}
	return Buffer.concat([
		Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
		chunk('IHDR', ihdr),
		chunk('IDAT', deflateSync(raw, { level: 9 })),
		chunk('IEND', Buffer.alloc(0))
	]);
}

mkdirSync(out, { recursive: true });
for (const [name, size, maskable] of [
	['icon-192.png', 192, false],
	['icon-512.png', 512, false],
	['maskable-512.png', 512, true],
	['apple-touch-icon.png', 180, true]
]) {
	const file = join(out, name);
	writeFileSync(file, png(size, draw(size, maskable)));
	console.log(`${file}`);
}
