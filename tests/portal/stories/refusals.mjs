// A refused action shows, beside the control, a Persian message with the API's field and rule.
import { expectFieldProblem } from './journey.mjs';

export async function refusals(ctx) {
  const { report, inspector, people } = ctx;
  const step = (name, body) => report.step(name, body);
  const visitor = await people.open('someone registering');

  await step('registration with a national code whose check digit is wrong is refused beside that field', async () => {
    await visitor.go('/register');
    await visitor.fill('نام و نام خانوادگی', 'نگار رضایی');
    await visitor.fill('کد ملی', '1234567890');
    await visitor.fill('شمارهٔ تلفن همراه', '09120000000');
    await visitor.press('ثبت‌نام', 'form#register');
    await expectFieldProblem(visitor, 'form#register', 'کد ملی', { field: 'national_code', rule: 'has an invalid check digit' });
  });
  await inspector.inspect(visitor, 'register-refused');

  await step('the error summary links to the field and moves focus there', async () => {
    await visitor.page.click('form#register .error-summary a');
    const focused = await visitor.page.evaluate(() => document.activeElement?.name);
    if (focused !== 'national-code') throw new Error(`focus went to ${focused}`);
  });

  await step('a bad token is refused beside the token field', async () => {
    await visitor.go('/signin');
    await visitor.fill('کلید ورود', 'sz_000000000000_00');
    await visitor.press('ورود', 'form#signin');
    await expectFieldProblem(visitor, 'form#signin', 'کلید ورود', { field: 'Authorization', rule: 'Bearer' });
  });
}
