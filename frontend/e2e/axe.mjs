// axe-core (npm) in the page: its source injected as a script, `axe.run()` over the document.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { inEachView } from './harness.mjs';

const require = createRequire(import.meta.url);
const source = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

/** axe's violations on the page as it is now: `[{id, impact, help, targets: [selector, …]}]`. */
export async function axeViolations(page) {
	// Colours are judged as they end up: after the cards' fade-in.
	await page.waitForFunction(() => document.getAnimations().every((a) => a.playState !== 'running'), null, { timeout: 10_000 });
	if (!(await page.evaluate(() => 'axe' in window))) await page.addScriptTag({ content: source });
	const result = await page.evaluate(async () => {
		// Every rule axe runs by default (WCAG 2.x A and AA, and best practices).
		const r = await window.axe.run(document, { resultTypes: ['violations'] });
		return r.violations.map((v) => ({
			id: v.id,
			impact: v.impact,
			help: v.help,
			targets: v.nodes.map((n) => `${n.target.join(' ')}${n.failureSummary ? ` — ${n.failureSummary.replace(/\s+/g, ' ').slice(0, 160)}` : ''}`)
		}));
	});
	return result;
}

/** The violations as lines, for an assertion message. */
export const describeViolations = (violations) =>
	violations.map((v) => `${v.id} (${v.impact}): ${v.help}\n    ${v.targets.join('\n    ')}`).join('\n');

/** axe-core finds nothing in any view; `where` names the page in the message. */
export async function assertAxeClean(page, where) {
	const found = [];
	await inEachView(page, async (view) => {
		const v = await axeViolations(page);
		if (v.length) found.push(`${where} at ${view.name}:\n${describeViolations(v)}`);
	});
	assert.equal(found.length, 0, `axe-core violations:\n${found.join('\n')}`);
}
