// Driving the portal as a person does: finding controls by their visible labels and buttons by
// their words, so a test passes only if the page is labelled as people (and screen readers) see it.
import puppeteer from 'puppeteer-core';

// Only the size changes between the two: switching isMobile makes Chromium reload the page.
export const PHONE = { width: 390, height: 844, deviceScaleFactor: 1 };
export const DESKTOP = { width: 1366, height: 900, deviceScaleFactor: 1 };

export async function launchBrowser(executablePath) {
  return puppeteer.launch({
    executablePath,
    headless: true,
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--lang=fa-IR', '--font-render-hinting=none'],
  });
}

// One person at the portal, in a browser context of their own (their own sessionStorage).
export class Visitor {
  // `downloads`: the folder the person's downloads land in.
  static async open(browser, baseUrl, name, downloads) {
    const context = await browser.createBrowserContext({ downloadBehavior: { policy: 'allow', downloadPath: downloads } });
    const page = await context.newPage();
    await page.setViewport(DESKTOP);
    const v = new Visitor(context, page, baseUrl, name);
    page.on('pageerror', (err) => v.errors.push(`page error: ${err.message}`));
    page.on('console', (msg) => {
      // A refused request is logged by the browser itself; the pages show those, so only the
      // page's own errors count here.
      if (msg.type() === 'error' && !/Failed to load resource/.test(msg.text())) v.errors.push(`console: ${msg.text()}`);
    });
    await page.evaluateOnNewDocument(() => {
      document.addEventListener('securitypolicyviolation', (e) => console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`));
    });
    return v;
  }

  constructor(context, page, baseUrl, name) {
    Object.assign(this, { context, page, baseUrl, name, errors: [] });
  }

  async close() {
    await this.context.close();
  }

  // Opens a route ("/case/C-…") and waits for the page to finish rendering.
  async go(route) {
    const url = `${this.baseUrl}/#${route}`;
    if (this.page.url() === url) {
      // Opening the page one is on reads it afresh, as a person reloading would.
      await this.page.reload({ waitUntil: 'load' });
    } else if (this.page.url().startsWith(this.baseUrl)) {
      await this.page.evaluate((r) => { location.hash = `#${r}`; }, route);
    } else {
      await this.page.goto(url, { waitUntil: 'load' });
    }
    await this.settled();
  }

  async settled() {
    // The portal marks #main with the route it has finished rendering.
    await this.page.waitForFunction(() => {
      const route = location.hash.startsWith('#/') ? location.hash.slice(1).split('?')[0] : '/';
      const main = document.getElementById('main');
      return main?.dataset.rendered === route && !document.querySelector('.loading');
    }, { timeout: 15_000 });
  }

  route() {
    return this.page.evaluate(() => location.hash.slice(1));
  }

  async text(scope = 'main') {
    return this.page.$eval(scope, (el) => el.innerText);
  }

  async waitForText(text, scope = 'main', timeout = 15_000) {
    try {
      await this.page.waitForFunction((s, t) => document.querySelector(s)?.innerText.includes(t), { timeout }, scope, text);
    } catch {
      const refusals = await this.page.$$eval('.error-summary:not([hidden])', (els) => els.map((e) => e.innerText)).catch(() => []);
      const shown = await this.text(scope).catch(() => '(nothing)');
      throw new Error(`${this.name}: «${text}» did not appear in ${scope}; `
        + (refusals.length ? `a form was refused: ${refusals.join(' | ')}` : `the page shows:\n${shown.slice(0, 1500)}`));
    }
  }

  // The input, select or textarea whose <label> says `label` (inside `scope`).
  async control(label, scope = 'main') {
    const handle = await this.page.evaluateHandle((sel, wanted) => {
      // The label's words without the "(optional)" mark the portal adds.
      const norm = (s) => s.replace(/\s*\(اختیاری\)\s*/g, '').replace(/\s+/g, ' ').trim();
      const root = document.querySelector(sel);
      if (!root) return null;
      for (const l of root.querySelectorAll('label')) {
        if (norm(l.textContent) === wanted) return document.getElementById(l.htmlFor);
      }
      return null;
    }, scope, label);
    const el = handle.asElement();
    if (!el) throw new Error(`${this.name}: no control labelled «${label}» in ${scope}`);
    return el;
  }

  async fill(label, value, scope = 'main') {
    const el = await this.control(label, scope);
    await el.evaluate((e) => { e.value = ''; });
    await el.type(String(value));
  }

  // Picks the option whose words are `optionText` (or start with them).
  async choose(label, optionText, scope = 'main') {
    const el = await this.control(label, scope);
    const value = await el.evaluate((select, wanted) => {
      const o = [...select.options].find((x) => x.textContent.trim() === wanted || x.textContent.trim().startsWith(wanted));
      return o ? o.value : null;
    }, optionText);
    if (value === null) throw new Error(`${this.name}: «${label}» has no option «${optionText}»`);
    await el.select(value);
  }

  async check(label, scope = 'main') {
    const el = await this.control(label, scope);
    if (!(await el.evaluate((e) => e.checked))) await el.click();
  }

  async upload(label, path, scope = 'main') {
    const el = await this.control(label, scope);
    await el.uploadFile(path);
  }

  // Clicks the button (or disclosure) whose words are `words`.
  async press(words, scope = 'main') {
    const handle = await this.page.evaluateHandle((sel, wanted) => {
      const root = document.querySelector(sel);
      // Buttons before disclosures: an action's submit button may say what its summary says.
      const candidates = root ? [...root.querySelectorAll('button, a.button'), ...root.querySelectorAll('summary')] : [];
      // The words a screen reader announces, visually hidden ones included.
      const words = (b) => b.textContent.replace(/\s+/g, ' ').trim();
      return candidates.find((b) => words(b) === wanted) ?? candidates.find((b) => words(b).startsWith(wanted)) ?? null;
    }, scope, words);
    const el = handle.asElement();
    if (!el) throw new Error(`${this.name}: no button «${words}» in ${scope}`);
    await el.click();
  }

  // Opens the case page's action `key` (its <details>) and returns the scope selector of its form.
  async action(key) {
    const scope = `details[data-action="${key}"]`;
    const found = await this.page.$(scope);
    if (!found) {
      const offered = await this.page.$$eval('details[data-action]', (ds) => ds.map((d) => d.dataset.action));
      throw new Error(`${this.name}: the case page offers no action «${key}» (it offers: ${offered.join(', ') || 'none'})`);
    }
    if (!(await found.evaluate((d) => d.open))) await this.page.click(`${scope} > summary`);
    return scope;
  }

  // A token shown once on the page (registration, or an operator issuing a credential).
  async issuedToken() {
    await this.page.waitForSelector('[data-token]', { timeout: 15_000 });
    return this.page.$eval('[data-token]', (el) => el.dataset.token);
  }

  async signIn(token) {
    await this.go('/signin');
    await this.fill('کلید ورود', token);
    await this.press('ورود', 'form#signin');
    await this.page.waitForFunction(() => !location.hash.startsWith('#/signin'), { timeout: 15_000 });
    await this.settled();
  }
}
