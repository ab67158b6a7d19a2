// The four ways the checks look at a page: 1280 px and 390 px wide, dark and light.
import assert from 'node:assert/strict';
import { shot } from './harness.mjs';
import { axeViolations, describeViolations } from './axe.mjs';

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

/** axe-core finds nothing in any view; `where` names the page in the message. */
export async function assertAxeClean(page, where) {
	const found = [];
	await inEachView(page, async (view) => {
		const v = await axeViolations(page);
		if (v.length) found.push(`${where} at ${view.name}:\n${describeViolations(v)}`);
	});
	assert.equal(found.length, 0, `axe-core violations:\n${found.join('\n')}`);
}
