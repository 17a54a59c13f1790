// What pages.mjs and journey.mjs share: axe-core on the page as it is, at
// phone and desktop width (no serious or critical violation, no sideways
// scrolling), and a screenshot of each width when a directory is given.
import { mkdirSync, readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const axeSource = readFileSync(join(here, 'node_modules/axe-core/axe.min.js'), 'utf8');

export const widths = [
  { name: 'phone', width: 375, height: 740 },
  { name: 'desktop', width: 1440, height: 900 },
];

// A function `audit(name)` for `page`; failures go to `check`, screenshots
// to `shots` (skipped when empty). The context must bypass the CSP: axe is
// injected as a script, which Turva's CSP (rightly) refuses.
export const auditor = (page, check, shots) => async (name) => {
  for (const w of widths) {
    await page.setViewportSize({ width: w.width, height: w.height });
    await page.addScriptTag({ content: axeSource });
    const result = await page.evaluate(async () => {
      // eslint-disable-next-line no-undef
      const r = await axe.run(document, { resultTypes: ['violations'] });
      return r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length }));
    });
    const bad = result.filter((v) => v.impact === 'serious' || v.impact === 'critical');
    check(bad.length === 0, `axe on ${name} at ${w.width}px: ${JSON.stringify(bad)}`);
    const scroll = await page.evaluate(() => document.documentElement.scrollWidth);
    check(scroll <= w.width, `${name} at ${w.width}px scrolls sideways (${scroll}px)`);
    if (shots) {
      mkdirSync(shots, { recursive: true });
      await page.screenshot({ path: join(shots, `${name}-${w.name}.png`), fullPage: true });
    }
  }
  await page.setViewportSize(widths[1]);
};
