// The portal's tests in a real browser: a real `sazesh serve` on a fresh data folder, Debian's
// chromium driven by puppeteer-core, axe-core on every page, and screenshots at phone and desktop
// width. Exits non-zero, naming each failed check, if anything fails.
//
//   node tests/portal/run.mjs --binary build/cli/sazesh --screenshots /tmp/portal-shots
//
// Options: --binary PATH (default build/cli/sazesh), --screenshots DIR (none by default),
// --chromium PATH (default $CHROMIUM or /usr/bin/chromium).
import { access as exists, mkdir, rm } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startServer } from './lib/server.mjs';
import { launchBrowser, Visitor } from './lib/browser.mjs';
import { PageInspector } from './lib/inspect.mjs';
import { Report } from './lib/report.mjs';
import { makeFiles } from './lib/fixtures.mjs';
import { journey } from './stories/journey.mjs';
import { access } from './stories/access.mjs';
import { refusals } from './stories/refusals.mjs';
import { settlement } from './stories/settlement.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const { values: args } = parseArgs({
  options: {
    binary: { type: 'string', default: resolve(root, 'build/cli/sazesh') },
    screenshots: { type: 'string' },
    chromium: { type: 'string', default: process.env.CHROMIUM || '/usr/bin/chromium' },
  },
});

// The people of the run, each in a browser context of their own, kept across stories.
class People {
  constructor(browser, baseUrl, downloads) {
    Object.assign(this, { browser, baseUrl, downloads, byName: new Map() });
  }

  async open(name) {
    const v = await Visitor.open(this.browser, this.baseUrl, name, this.downloads);
    this.byName.set(name, v);
    return v;
  }

  async get(name) {
    const v = this.byName.get(name);
    if (!v) throw new Error(`${name} has not come to the portal in this run`);
    return v;
  }

  all() {
    return [...this.byName.values()];
  }
}

async function main() {
  if (!(await exists(resolve(root, 'portal/node_modules/jalaali-js')).then(() => true, () => false))) {
    console.error('portal/node_modules is missing: run `npm ci` in portal/ first');
    return false;
  }
  const report = new Report();
  const screenshotDir = args.screenshots ? resolve(args.screenshots) : null;
  if (screenshotDir) await mkdir(screenshotDir, { recursive: true });
  const files = await makeFiles();
  const server = await startServer({ binary: resolve(args.binary), portalDir: resolve(root, 'portal') });
  console.log(`sazesh serve at ${server.url} on ${server.dataDir}`);
  const browser = await launchBrowser(args.chromium);
  const people = new People(browser, server.url, files.downloads);
  const ctx = { report, inspector: new PageInspector({ screenshotDir, report }), people, server, files };
  // The whole run is bounded: a hung page must not hold a CI job.
  const watchdog = setTimeout(() => {
    console.log('\nFAIL  the run took longer than 5 minutes');
    process.exit(1);
  }, 300_000);
  try {
    await report.story('The journey of one complaint', () => journey(ctx));
    await report.story('A complaint settled between the parties, then reopened', () => settlement(ctx));
    await report.story('Each role sees only what it may', () => access(ctx));
    await report.story('Refusals are shown beside the field', () => refusals(ctx));
    console.log('\nThe pages themselves');
    for (const person of people.all()) {
      report.check(`no script error or policy violation in ${person.name}'s pages`, person.errors.length === 0, person.errors.join('\n    '));
    }
  } finally {
    clearTimeout(watchdog);
    await browser.close();
    const failed = report.failures.length > 0;
    if (failed) console.log(`\nthe server's last log lines:\n${server.log().split('\n').slice(-15).join('\n')}`);
    await server.stop();
    await rm(files.dir, { recursive: true, force: true });
  }
  if (screenshotDir) console.log(`screenshots in ${screenshotDir}`);
  return report.summary();
}

main().then((ok) => process.exit(ok ? 0 : 1), (err) => {
  console.error(err?.stack ?? err);
  process.exit(1);
});
