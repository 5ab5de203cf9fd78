// A second complaint, settled between the parties: filed without its documents (the case waits
// for them, and says who must act by when), completed by attaching them, answered with a
// counter-offer the shop accepts, the remedy delivered and confirmed, and then reopened.
import { jalaliDaysAgo } from '../lib/fixtures.mjs';

export async function settlement(ctx) {
  const { report, inspector, people, files } = ctx;
  const step = (name, body) => report.step(name, body);
  const consumer = await people.get('consumer');
  const shop = await people.get('shop');
  const operator = await people.get('operator');
  let caseId;

  await step('a complaint filed without its documents waits for them, with the consumer\'s deadline', async () => {
    await consumer.go('/consumer/file');
    const f = 'form#file';
    await consumer.choose('فروشگاه', 'فروشگاه کالالند', f);
    await consumer.fill('شمارهٔ سفارش یا کد رهگیری', 'KL-90417', f);
    await consumer.fill('تاریخ خرید', jalaliDaysAgo(20), f);
    await consumer.fill('مبلغ پرداختی (ریال)', '9900000', f);
    await consumer.choose('موضوع شکایت', 'تحویل‌نشدن کالا', f);
    await consumer.waitForText('این مدارک لازم است: فاکتور خرید، رسید پرداخت', f);
    await consumer.choose('چه می‌خواهید', 'تحویل کالا', f);
    await consumer.fill('شرح ماجرا', 'سفارش پس از سه هفته هنوز نرسیده است.', f);
    await consumer.press('ثبت شکایت', `${f} .actions`);
    await consumer.page.waitForFunction(() => location.hash.startsWith('#/case/'), { timeout: 15_000 });
    await consumer.settled();
    caseId = (await consumer.route()).replace('/case/', '');
    await consumer.waitForText('در انتظار مدارک');
    await consumer.waitForText('فرستادن مدارک کم', 'ul.deadlines');
    await consumer.waitForText('بر عهدهٔ مصرف‌کننده', 'ul.deadlines');
    await consumer.waitForText('مدارک لازمی که هنوز نرسیده: فاکتور خرید، رسید پرداخت');
  });
  console.log(`    (case ${caseId})`);
  await inspector.inspect(consumer, 'consumer-case-awaiting-documents');

  await step('the consumer attaches the missing documents and the case goes to triage', async () => {
    for (const [kind, path] of [['فاکتور خرید', files.invoice], ['رسید پرداخت', files.photo]]) {
      const f = await consumer.action('attach');
      await consumer.choose('نوع مدرک', kind, f);
      await consumer.upload('فایل مدرک', path, f);
      await consumer.press('پیوست', f);
      await consumer.waitForText('مدرک پیوست شد.');
    }
    await consumer.waitForText('در انتظار بررسی اولیه');
  });

  await step('the operator accepts it and the shop answers', async () => {
    await operator.go(`/case/${caseId}`);
    let f = await operator.action('accept');
    await operator.press('پذیرش', f);
    await operator.waitForText('پرونده پذیرفته شد');
    await shop.go(`/case/${caseId}`);
    f = await shop.action('respond');
    await shop.fill('پاسخ فروشگاه', 'مرسوله در انبار مانده بود؛ پیگیری می‌کنیم.', f);
    await shop.press('فرستادن پاسخ', f);
    await shop.waitForText('پاسخ ثبت شد');
  });

  await step('the consumer makes a counter-offer, and the shop accepts it', async () => {
    await consumer.go(`/case/${caseId}`);
    let f = await consumer.action('offer');
    await consumer.choose('نوع جبران', 'تحویل کالا', f);
    await consumer.fill('مهلت انجام (روز)', '3', f);
    await consumer.fill('شرح پیشنهاد', 'کالا ظرف سه روز با پست پیشتاز فرستاده شود.', f);
    await consumer.press('ثبت پیشنهاد متقابل', f);
    await consumer.waitForText('پیشنهاد ثبت شد');
    await shop.go(`/case/${caseId}`);
    f = await shop.action('accept-offer-1');
    await shop.press('پیشنهاد ۱ را می‌پذیرم', f);
    await shop.waitForText('پیشنهاد پذیرفته شد');
    await shop.waitForText('انجام جبران توافق‌شده', 'ul.deadlines');
    await shop.waitForText('بر عهدهٔ فروشگاه', 'ul.deadlines');
  });

  await step('the shop says the remedy was delivered; the consumer confirms it and the case closes', async () => {
    let f = await shop.action('remedy-fulfilled');
    await shop.fill('چه کاری انجام شد', 'مرسوله با کد رهگیری ۱۲۳۴ فرستاده شد.', f);
    await shop.press('جبران انجام شد', f);
    await shop.waitForText('انجام جبران اعلام شد.');
    await consumer.go(`/case/${caseId}`);
    await consumer.waitForText('تأیید رسیدن جبران', 'ul.deadlines');
    await inspector.inspect(consumer, 'consumer-case-remedy-confirmation');
    f = await consumer.action('confirm-remedy');
    await consumer.press('جبران به دستم رسید', f);
    await consumer.waitForText('رسیدن جبران تأیید شد.');
    await consumer.waitForText('بسته‌شده');
  });

  await step('the consumer reopens the settled case, which goes back to mediation', async () => {
    const f = await consumer.action('reopen');
    await consumer.fill('چه چیزی انجام نشد', 'بستهٔ رسیده خالی بود.', f);
    await consumer.press('بازگشایی', f);
    await consumer.waitForText('پرونده بازگشایی شد.');
    await consumer.waitForText('در انتظار میانجی');
  });
}
