// What every page is checked for: axe-core's accessibility rules (no serious or critical
// violation) and a screenshot at phone and desktop width for a person to look at.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { PHONE, DESKTOP } from './browser.mjs';

const require = createRequire(import.meta.url);
const axeSource = require('axe-core').source;

// axe is run through the DevTools protocol, which the page's Content-Security-Policy does not
// govern; the policy stays on for everything the portal itself does.
async function axeViolations(page) {
  if (!(await page.evaluate(() => typeof window.axe !== 'undefined'))) await page.evaluate(axeSource);
  const result = await page.evaluate(async () => {
    // Open every disclosure, so the forms inside them are checked too.
    const closed = [...document.querySelectorAll('details:not([open])')];
    for (const d of closed) d.open = true;
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    for (const d of closed) d.open = false;
    return r.violations.map((v) => ({
      id: v.id, impact: v.impact, help: v.help,
      nodes: v.nodes.slice(0, 3).map((n) => `${n.target.join(' ')}: ${n.failureSummary?.split('\n')[1]?.trim() ?? ''}`),
    }));
  });
  return result.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

// The whole page, top to bottom. Puppeteer's fullPage capture shifts a right-to-left page
// sideways in Chromium, so the viewport is made as tall as the page instead.
async function wholePage(page, viewport, file) {
  const height = await page.evaluate(() => Math.ceil(document.documentElement.scrollHeight));
  await page.setViewport({ ...viewport, height: Math.max(viewport.height, Math.min(height, 12_000)) });
  await page.screenshot({ path: file });
  await page.setViewport(viewport);
}

export class PageInspector {
  constructor({ screenshotDir, report }) {
    Object.assign(this, { screenshotDir, report, shot: 0 });
  }

  // Checks the page `visitor` shows now, under `name`, at both widths.
  async inspect(visitor, name) {
    const { page } = visitor;
    for (const [width, viewport] of [['desktop', DESKTOP], ['phone', PHONE]]) {
      await page.setViewport(viewport);
      await page.evaluate(() => document.fonts.ready);
      const serious = await axeViolations(page);
      this.report.check(`axe: ${name} (${width}) has no serious or critical violation`, serious.length === 0,
        serious.map((v) => `${v.impact} ${v.id}: ${v.help}\n      ${v.nodes.join('\n      ')}`).join('\n    '));
      if (this.screenshotDir) {
        this.shot += 1;
        const file = join(this.screenshotDir, `${String(this.shot).padStart(2, '0')}-${name}-${width}.png`);
        await wholePage(page, viewport, file);
      }
    }
    await page.setViewport(DESKTOP);
  }
}
