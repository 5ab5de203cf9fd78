// The whole life of one complaint, through the pages only: the operator sets up the shop, the
// agencies and the mediator and issues their credentials; the consumer registers (by keyboard
// alone) and files with documents; the shop answers and offers; the consumer rejects and asks
// for mediation; mediation fails; the case is referred, acknowledged, transferred and decided;
// the consumer rates; the public page shows the shop's new standing; the auditor checks the
// chain and the analyst downloads a chart's data.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { jalaliDaysAgo } from '../lib/fixtures.mjs';

const SHOP = { seal: '7001', domain: 'kalaland.ir', name: 'فروشگاه کالالند' };
const FIRST_AGENCY = { id: 'consumer-protection', name: 'سازمان حمایت مصرف‌کنندگان' };
const SECOND_AGENCY = { id: 'tazirat', name: 'سازمان تعزیرات حکومتی' };
const MEDIATOR = { name: 'زهرا کریمی', mobile: '09351112233' };

export async function journey(ctx) {
  const { report, inspector, people, files } = ctx;
  const step = (name, body) => report.step(name, body);

  const operator = await people.open('operator');
  await step('the operator signs in with the bootstrap token and sees the queues', async () => {
    await operator.signIn(ctx.server.operatorToken);
    await operator.waitForText('در انتظار بررسی اولیه');
  });
  await inspector.inspect(operator, 'operator-queue-empty');

  await step('the operator registers a shop, two agencies and a mediator', async () => {
    await operator.go('/operator/parties');
    let f = 'form#register-business';
    await operator.fill('شناسهٔ نماد اعتماد', SHOP.seal, f);
    await operator.fill('دامنه', SHOP.domain, f);
    await operator.fill('نام فروشگاه', SHOP.name, f);
    await operator.choose('سطح نماد (ستاره)', '۴', f);
    await operator.press('ثبت فروشگاه', f);
    await operator.waitForText('فروشگاه ثبت شد', f);
    f = 'form#register-agency';
    for (const agency of [FIRST_AGENCY, SECOND_AGENCY]) {
      await operator.fill('شناسهٔ کوتاه', agency.id, f);
      await operator.fill('نام مرجع', agency.name, f);
      await operator.check('کالای معیوب', f);
      await operator.press('ثبت مرجع', f);
      await operator.waitForText(`مرجع ثبت شد: ${agency.id}`, f);
    }
    f = 'form#register-mediator';
    await operator.fill('نام و نام خانوادگی', MEDIATOR.name, f);
    await operator.fill('تلفن همراه', MEDIATOR.mobile, f);
    await operator.press('ثبت میانجی', f);
    await operator.waitForText('میانجی ثبت شد', f);
    ctx.mediatorId = await operator.page.$eval('.new-id', (el) => el.textContent.trim());
    await operator.waitForText(MEDIATOR.name, 'main');
  });

  ctx.tokens = {};
  await step('the operator issues each party its credential, shown once', async () => {
    const issue = async (roleLabel, id) => {
      const f = 'form#account-create';
      const before = await operator.page.$eval('[data-token]', (el) => el.value).catch(() => '');
      await operator.choose('نقش', roleLabel, f);
      await operator.fill('شناسه', id, f);
      await operator.press('صدور کلید', f);
      await operator.page.waitForFunction((old) => {
        const el = document.querySelector('[data-token]');
        return el && el.value !== old;
      }, { timeout: 15_000 }, before);
      return operator.issuedToken();
    };
    ctx.tokens.shop = await issue('فروشگاه', SHOP.seal);
    ctx.tokens.firstAgency = await issue('مرجع رسیدگی', FIRST_AGENCY.id);
    ctx.tokens.secondAgency = await issue('مرجع رسیدگی', SECOND_AGENCY.id);
    ctx.tokens.mediator = await issue('میانجی', ctx.mediatorId);
    ctx.tokens.auditor = await issue('حسابرس', 'reza');
    ctx.tokens.analyst = await issue('تحلیلگر', 'sara');
    await operator.waitForText('این کلید فقط همین یک بار نمایش داده می‌شود');
  });
  await inspector.inspect(operator, 'operator-parties');

  const visitor = await people.open('public');
  let standingBefore;
  await step('the public page, without signing in, shows the new shop in good standing', async () => {
    await visitor.go('/public');
    standingBefore = await shopStanding(visitor, SHOP.seal);
    for (const shown of [SHOP.name, SHOP.domain]) {
      if (!standingBefore.text.includes(shown)) throw new Error(`the shop's card shows: ${standingBefore.text}`);
    }
  });

  const consumer = await people.open('consumer');
  await step('a consumer registers using the keyboard alone', async () => {
    await consumer.go('/register');
    const k = consumer.page.keyboard;
    await k.press('Tab');
    await expectFocus(consumer, 'a.skip-link');
    await k.press('Enter');
    await expectFocus(consumer, 'main');
    await k.press('Tab');
    await expectFocus(consumer, 'input[name="name"]');
    await k.type('سارا احمدی');
    await k.press('Tab');
    await expectFocus(consumer, 'input[name="national-code"]');
    await k.type('۵۲۶۰۱۸۱۵۹۱');
    await k.press('Tab');
    await expectFocus(consumer, 'input[name="mobile"]');
    await k.type('09121234567');
    await k.press('Enter');
    ctx.tokens.consumer = await consumer.issuedToken();
    await consumer.waitForText('شما با شناسهٔ');
  });
  await inspector.inspect(consumer, 'consumer-registered');

  await step('the consumer files a defective-goods complaint; the documents it needs are shown and uploaded with it', async () => {
    await consumer.press('ثبت شکایت', '.register-result');
    await consumer.page.waitForFunction(() => location.hash === '#/consumer/file');
    await consumer.settled();
    const f = 'form#file';
    await consumer.choose('فروشگاه', SHOP.name, f);
    await consumer.fill('شمارهٔ سفارش یا کد رهگیری', 'KL-88213', f);
    await consumer.fill('تاریخ خرید', jalaliDaysAgo(12), f);
    await consumer.fill('مبلغ پرداختی (ریال)', '۴۸٬۵۰۰٬۰۰۰', f);
    await consumer.choose('موضوع شکایت', 'کالای معیوب', f);
    await consumer.waitForText('این مدارک لازم است: فاکتور خرید، عکس کالا', f);
    await consumer.waitForText('حداکثر ۷ روز کاری', f);
    await consumer.choose('چه می‌خواهید', 'تعویض کالا', f);
    await consumer.fill('شرح ماجرا', 'مخلوط‌کن شکسته رسید و روشن نمی‌شود.', f);
    await consumer.upload('فاکتور خرید', files.invoice, f);
    await consumer.upload('عکس کالا', files.photo, f);
    await inspector.inspect(consumer, 'consumer-file-complaint');
    await consumer.press('ثبت شکایت', `${f} .actions`);
    await consumer.page.waitForFunction(() => location.hash.startsWith('#/case/'), { timeout: 15_000 });
    await consumer.settled();
    ctx.caseId = (await consumer.route()).replace('/case/', '');
    await consumer.waitForText('شکایت شما ثبت شد');
    await consumer.waitForText('در انتظار بررسی اولیه');
    await consumer.waitForText('invoice.pdf');
    await consumer.waitForText('photo.png');
  });
  console.log(`    (case ${ctx.caseId})`);
  await inspector.inspect(consumer, 'consumer-case-filed');

  await step('the operator finds it in the triage queue and accepts it for negotiation', async () => {
    await operator.go('/operator');
    await operator.waitForText(ctx.caseId);
    await inspector.inspect(operator, 'operator-queue');
    await operator.go(`/case/${ctx.caseId}`);
    const f = await operator.action('accept');
    await operator.choose('مسیر', 'مذاکره با فروشگاه', f);
    await operator.press('پذیرش', f);
    await operator.waitForText('پرونده پذیرفته شد');
    await operator.waitForText('نزد فروشگاه');
    await operator.waitForText('پاسخ فروشگاه', 'ul.deadlines');
    await operator.waitForText('بر عهدهٔ فروشگاه', 'ul.deadlines');
  });
  await inspector.inspect(operator, 'operator-case-accepted');

  const shop = await people.open('shop');
  await step('the shop signs in and sees the complaint in its inbox with the answer deadline and who must act', async () => {
    await shop.signIn(ctx.tokens.shop);
    await shop.waitForText(ctx.caseId);
    await shop.waitForText('پاسخ فروشگاه');
    await shop.waitForText('بر عهدهٔ فروشگاه');
    await shop.waitForText('پاسخ ندادن در ۷۲ ساعت کاری', '.lead');
  });
  await inspector.inspect(shop, 'shop-inbox');

  await step('the shop answers the complaint', async () => {
    await shop.go(`/case/${ctx.caseId}`);
    const f = await shop.action('respond');
    await shop.fill('پاسخ فروشگاه', 'از بابت مشکل متأسفیم؛ بخشی از مبلغ را برمی‌گردانیم.', f);
    await shop.press('فرستادن پاسخ', f);
    await shop.waitForText('پاسخ ثبت شد');
    await shop.waitForText('در حال مذاکره');
  });

  await step('a refused offer shows the API\'s field and rule beside the field, in Persian', async () => {
    const f = await shop.action('offer');
    await shop.choose('نوع جبران', 'بازپرداخت بخشی از وجه', f);
    await shop.fill('مبلغ (ریال)', '10,000,000', f);
    await shop.fill('مهلت انجام (روز)', '0', f);
    await shop.fill('شرح پیشنهاد', 'بازپرداخت بیست درصد مبلغ', f);
    await shop.press('ثبت پیشنهاد', f);
    await expectFieldProblem(shop, f, 'مهلت انجام (روز)', { field: 'remedy_days', rule: 'must be from 1 to' });
  });
  await inspector.inspect(shop, 'shop-offer-refused');

  await step('the shop corrects the offer and sends it', async () => {
    const f = await shop.action('offer');
    await shop.fill('مهلت انجام (روز)', '۵', f);
    await shop.press('ثبت پیشنهاد', f);
    await shop.waitForText('پیشنهاد ثبت شد');
    await shop.waitForText('پیشنهاد شمارهٔ ۱');
  });

  await step('the shop reads its scorecard and the points behind its trust score', async () => {
    await shop.go('/shop/score');
    await shop.waitForText('امتیاز پایه');
    await shop.waitForText('شکایت دریافت‌شده');
  });
  await inspector.inspect(shop, 'shop-score');

  await step('the consumer sees the offer, rejects it and asks for mediation', async () => {
    await consumer.go(`/case/${ctx.caseId}`);
    let f = await consumer.action('reject-offer-1');
    await consumer.fill('دلیل رد', 'این مبلغ خسارت را جبران نمی‌کند.', f);
    await inspector.inspect(consumer, 'consumer-case-offer');
    await consumer.press('رد پیشنهاد ۱', f);
    await consumer.waitForText('پیشنهاد رد شد');
    f = await consumer.action('request-mediation');
    await consumer.fill('چرا میانجی لازم است', 'به توافق نرسیدیم.', f);
    await consumer.press('درخواست میانجی', f);
    await consumer.waitForText('درخواست میانجی‌گری ثبت شد');
    await consumer.waitForText('در انتظار میانجی');
  });

  await step('the operator assigns the mediator', async () => {
    await operator.go(`/case/${ctx.caseId}`);
    const f = await operator.action('assign-mediator');
    await operator.choose('میانجی', MEDIATOR.name, f);
    await operator.press('تعیین میانجی', f);
    await operator.waitForText('میانجی تعیین شد');
    await operator.waitForText('پایان میانجی‌گری', 'ul.deadlines');
  });

  const mediator = await people.open('mediator');
  await step('the mediator sees the case, proposes a settlement, and concludes that mediation failed', async () => {
    await mediator.signIn(ctx.tokens.mediator);
    await mediator.waitForText(ctx.caseId);
    await mediator.waitForText('هر میانجی‌گری ۲۱ روز مهلت دارد', '.lead');
    await inspector.inspect(mediator, 'mediator-cases');
    await mediator.go(`/case/${ctx.caseId}`);
    let f = await mediator.action('propose-settlement');
    await mediator.choose('نوع جبران', 'تعویض کالا', f);
    await mediator.fill('شرایط سازش', 'فروشگاه کالا را تا یک هفته تعویض کند.', f);
    await mediator.press('ثبت پیشنهاد سازش', f);
    await mediator.waitForText('پیشنهاد سازش ثبت شد');
    await inspector.inspect(mediator, 'mediator-case');
    f = await mediator.action('conclude-mediation');
    await mediator.choose('نتیجه', 'ناموفق', f);
    await mediator.fill('خلاصهٔ میانجی‌گری', 'فروشگاه تعویض را نپذیرفت.', f);
    await mediator.press('ثبت پایان میانجی‌گری', f);
    await mediator.waitForText('پایان میانجی‌گری ثبت شد');
    await mediator.waitForText('میانجی‌گری ناموفق');
  });

  await step('the operator refers the case to the first agency', async () => {
    await operator.go(`/case/${ctx.caseId}`);
    const f = await operator.action('refer');
    await operator.choose('مرجع رسیدگی', FIRST_AGENCY.name, f);
    await operator.fill('نامهٔ ارجاع', 'پروندهٔ کامل برای رسیدگی.', f);
    await operator.press('ارجاع', f);
    await operator.waitForText('پرونده ارجاع شد');
    await operator.waitForText('ارجاع‌شده به مرجع');
  });

  const firstAgency = await people.open('first agency');
  await step('the first agency sees it in its queue with its deadlines, reads the dossier, acknowledges and transfers it', async () => {
    await firstAgency.signIn(ctx.tokens.firstAgency);
    await firstAgency.waitForText(ctx.caseId);
    await firstAgency.waitForText('اعلام وصول ارجاع');
    await firstAgency.waitForText('بر عهدهٔ مرجع رسیدگی');
    await firstAgency.waitForText('ظرف ۷ روز کاری اعلام وصول و ظرف ۳۰ روز رأی', '.lead');
    await inspector.inspect(firstAgency, 'agency-queue');
    await firstAgency.go(`/case/${ctx.caseId}`);
    await firstAgency.waitForText('سارا احمدی', 'main');
    await firstAgency.waitForText('5260181591', 'main');
    let f = await firstAgency.action('acknowledge');
    await firstAgency.waitForText('مهلت ۷ روز کاری برای اعلام وصول', f);
    await firstAgency.press('اعلام وصول پرونده', f);
    await firstAgency.waitForText('وصول پرونده اعلام شد');
    await inspector.inspect(firstAgency, 'agency-case');
    f = await firstAgency.action('transfer');
    await firstAgency.fill('مرجع گیرنده', SECOND_AGENCY.id, f);
    await firstAgency.fill('دلیل', 'موضوع در صلاحیت تعزیرات است.', f);
    await firstAgency.press('سپردن پرونده', f);
    await firstAgency.waitForText('پرونده به مرجع دیگر سپرده شد');
  });

  const secondAgency = await people.open('second agency');
  await step('the second agency downloads a document of the dossier, acknowledges and decides', async () => {
    await secondAgency.signIn(ctx.tokens.secondAgency);
    await secondAgency.waitForText(ctx.caseId);
    await secondAgency.go(`/case/${ctx.caseId}`);
    await secondAgency.press('دریافت invoice.pdf', 'ul.documents');
    await waitForFile(files.downloads, 'invoice.pdf');
    let f = await secondAgency.action('acknowledge');
    await secondAgency.press('اعلام وصول پرونده', f);
    await secondAgency.waitForText('وصول پرونده اعلام شد');
    f = await secondAgency.action('decide');
    await secondAgency.choose('رأی', 'وارد دانسته شد', f);
    await secondAgency.fill('متن رأی', 'فروشگاه به تعویض کالا و جریمه محکوم شد.', f);
    await secondAgency.press('ثبت رأی و بستن پرونده', f);
    await secondAgency.waitForText('رأی ثبت شد');
    await secondAgency.waitForText('بسته‌شده');
  });

  await step('the consumer rates the closed case and reads its whole history in Persian', async () => {
    await consumer.go(`/case/${ctx.caseId}`);
    const f = await consumer.action('rate');
    await consumer.choose('امتیاز شما', '۲ ستاره', f);
    await consumer.choose('آیا مشکل شما حل شد؟', 'خیر', f);
    await consumer.fill('نظر شما', 'رسیدگی طول کشید.', f);
    await consumer.press('ثبت امتیاز', f);
    await consumer.waitForText('امتیاز شما ثبت شد');
    for (const line of ['شکایت ثبت شد', 'فروشگاه به‌موقع پاسخ داد', 'پیشنهاد شمارهٔ ۱ رد شد', 'میانجی‌گری ناموفق بود',
      'پرونده به مرجع دیگری سپرده شد', 'رأی مرجع: وارد دانسته شد', 'امتیاز مصرف‌کننده: ۲ از ۵']) {
      await consumer.waitForText(line, 'ol.timeline');
    }
  });
  await inspector.inspect(consumer, 'consumer-case-closed');

  await step('the operator restricts the shop\'s seal', async () => {
    await operator.go('/operator/seals');
    const f = 'form#restrict-seal';
    await operator.fill('شناسهٔ نماد فروشگاه', SHOP.seal, f);
    await operator.fill('دلیل', 'رأی مرجع علیه فروشگاه صادر شد.', f);
    await operator.press('محدود کردن', f);
    await operator.waitForText('نماد محدود شد.', f);
    await operator.waitForText('محدودشده', '.table-scroll');
  });
  await inspector.inspect(operator, 'operator-seals');

  await step('the public page shows the shop\'s new standing and its restricted seal', async () => {
    await visitor.go('/public');
    const after = await shopStanding(visitor, SHOP.seal);
    if (!after.text.includes('شکایت‌ها\n۱')) throw new Error(`the card does not count the complaint: ${after.text}`);
    if (after.score === standingBefore.score) throw new Error(`the score did not move: ${after.score}`);
    if (!after.text.includes('به تصمیم کارشناس سامانه محدود شده است')) throw new Error(`the card does not show the restriction: ${after.text}`);
    await visitor.waitForText(SHOP.name, 'ul.restricted-list');
  });
  await inspector.inspect(visitor, 'public-standings');

  await step('the operator reinstates the seal', async () => {
    const f = 'form#reinstate-seal';
    await operator.fill('شناسهٔ نماد فروشگاه', SHOP.seal, f);
    await operator.fill('دلیل', 'فروشگاه رأی را اجرا کرد.', f);
    await operator.press('برداشتن محدودیت', f);
    await operator.waitForText('محدودیت برداشته شد.', f);
    await operator.waitForText('فعال', '.table-scroll');
  });

  const auditor = await people.open('auditor');
  await step('the auditor opens the case and the browser verifies its hash chain', async () => {
    await auditor.signIn(ctx.tokens.auditor);
    await auditor.waitForText(ctx.caseId);
    await inspector.inspect(auditor, 'auditor-home');
    await auditor.go(`/audit/${ctx.caseId}`);
    const verdict = await auditor.page.$eval('.chain-verdict', (el) => el.dataset.chain);
    if (verdict !== 'ok') throw new Error(`the chain verdict is ${verdict}`);
    await auditor.waitForText('زنجیرهٔ درهم‌سازی سالم است');
  });
  await inspector.inspect(auditor, 'auditor-case-chain');

  const analyst = await people.open('analyst');
  await step('the analyst sees the charts and downloads one as CSV', async () => {
    await analyst.signIn(ctx.tokens.analyst);
    const charts = await analyst.page.$$eval('figure.chart', (c) => c.length);
    if (charts < 6) throw new Error(`${charts} charts shown, 6 expected`);
    await analyst.press('دریافت CSV: شکایت‌ها در هر ماه', '#chart-month');
    const csv = await waitForFile(files.downloads, 'complaints-by-month.csv');
    if (!/^\ufeffmonth,cases\r\n\d{4}-\d{2},1\r\n$/.test(csv)) throw new Error(`unexpected CSV: ${JSON.stringify(csv)}`);
  });
  await inspector.inspect(analyst, 'analyst-charts');
}

// What the public page says of one shop: its card's text and its score line.
async function shopStanding(visitor, seal) {
  const card = `li[data-business="${seal}"]`;
  await visitor.page.waitForSelector(card, { timeout: 10_000 });
  return visitor.page.$eval(card, (el) => ({ text: el.innerText, score: el.querySelector('.score').textContent }));
}

async function expectFocus(visitor, selector) {
  const ok = await visitor.page.evaluate((s) => document.activeElement?.matches(s), selector);
  if (!ok) {
    const at = await visitor.page.evaluate(() => document.activeElement?.outerHTML.slice(0, 200));
    throw new Error(`focus should be on ${selector}, is on ${at}`);
  }
}

// The error line beside the control labelled `label` says, in Persian, what the API refused,
// with its field and rule.
export async function expectFieldProblem(visitor, scope, label, { field, rule }) {
  await visitor.page.waitForSelector(`${scope} .field-has-error`, { timeout: 10_000 });
  const control = await visitor.control(label, scope);
  const shown = await control.evaluate((el) => {
    const box = el.closest('.field');
    const line = box.querySelector('.field-error');
    return {
      invalid: el.getAttribute('aria-invalid'),
      describedBy: el.getAttribute('aria-describedby') ?? '',
      errorId: line.id,
      visible: !line.hidden,
      text: line.innerText,
    };
  });
  const problems = [];
  if (!shown.visible) problems.push('no error line is shown beside the field');
  if (shown.invalid !== 'true') problems.push('the field is not marked aria-invalid');
  if (!shown.describedBy.split(' ').includes(shown.errorId)) problems.push('the field is not described by its error line');
  if (!shown.text.includes(field)) problems.push(`the error line does not name the field ${field}`);
  if (!shown.text.includes(rule)) problems.push(`the error line does not give the rule «${rule}»`);
  if (!/[\u0600-\u06FF]{3,}/.test(shown.text.replace(field, '').replace(rule, ''))) problems.push('the error line has no Persian message');
  const summary = await visitor.page.$eval(`${scope} .error-summary`, (el) => !el.hidden && el.innerText).catch(() => false);
  if (!summary) problems.push('no error summary above the form');
  if (problems.length) throw new Error(`${problems.join('; ')}\n    error line: ${shown.text}`);
}

async function waitForFile(dir, name, timeout = 10_000) {
  const until = Date.now() + timeout;
  while (Date.now() < until) {
    const names = await readdir(dir).catch(() => []);
    if (names.includes(name)) {
      const text = await readFile(join(dir, name), 'utf8');
      if (text.length) return text;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${name} was not downloaded into ${dir}`);
}
