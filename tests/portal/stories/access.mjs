// Each role sees only what it may: another consumer's case is "not found" (as the service says
// of a case that is not yours), pages of other roles are refused, and signing in is required.
export async function access(ctx) {
  const { report, inspector, people } = ctx;
  const step = (name, body) => report.step(name, body);
  if (!ctx.caseId) throw new Error('the journey filed no case to test access on');

  const stranger = await people.open('another consumer');
  await step('another consumer who opens the case by its URL is told it was not found', async () => {
    await stranger.go('/register');
    await stranger.fill('نام و نام خانوادگی', 'رضا موسوی');
    await stranger.fill('کد ملی', '0830166130');
    await stranger.fill('شمارهٔ تلفن همراه', '09187654321');
    await stranger.press('ثبت‌نام', 'form#register');
    await stranger.issuedToken();
    await stranger.go(`/case/${ctx.caseId}`);
    await stranger.waitForText('پرونده پیدا نشد');
    const leaked = await stranger.page.evaluate(() => document.querySelectorAll('ol.timeline, details[data-action]').length);
    if (leaked) throw new Error('the page still shows parts of the case');
  });
  await inspector.inspect(stranger, 'consumer-other-case-not-found');

  await step('the other consumer\'s own list does not hold the case', async () => {
    await stranger.go('/consumer');
    const text = await stranger.text();
    if (text.includes(ctx.caseId)) throw new Error('the case is listed');
  });

  await step('a consumer cannot open the operator\'s pages', async () => {
    await stranger.go('/operator/parties');
    await stranger.waitForText('دسترسی ندارید');
    if (await stranger.page.$('form#account-create')) throw new Error('the credential form is shown');
  });

  await step('the analyst, who reads no case timelines, cannot open the case page', async () => {
    const analyst = await people.get('analyst');
    await analyst.go(`/case/${ctx.caseId}`);
    await analyst.waitForText('دسترسی ندارید');
  });

  await step('the shop cannot open an agency\'s or a mediator\'s pages', async () => {
    const shop = await people.get('shop');
    await shop.go('/agency');
    await shop.waitForText('دسترسی ندارید');
    await shop.go('/mediator');
    await shop.waitForText('دسترسی ندارید');
  });

  const anonymous = await people.open('anonymous');
  await step('without signing in, a case URL leads to the sign-in page', async () => {
    await anonymous.go(`/case/${ctx.caseId}`);
    await anonymous.page.waitForFunction(() => location.hash.startsWith('#/signin'), { timeout: 10_000 });
    await anonymous.settled();
    await anonymous.waitForText('کلید ورود');
  });
  await inspector.inspect(anonymous, 'signin');
}
