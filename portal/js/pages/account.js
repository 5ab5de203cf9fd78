// Signing in with a token, and a consumer registering (the service answers with a token, shown once).
import { h, ltr, notice } from '../dom.js';
import { write, whoami } from '../api.js';
import { commandForm, FieldProblem } from '../forms.js';
import { pageTitle } from '../layout.js';
import { latinDigits, roleName } from '../fa.js';
import { remember } from '../session.js';
import { navigate } from '../router.js';

export function homeOf(role) {
  return {
    consumer: '/consumer', business: '/shop', operator: '/operator', mediator: '/mediator',
    agency: '/agency', auditor: '/auditor', analyst: '/analyst',
  }[role] ?? '/public';
}

export function signInPage(main, params, session, query) {
  main.append(
    pageTitle('ورود', 'کلید ورودی را که سامانه به شما داده است وارد کنید. این کلید فقط تا بسته شدن این زبانه نگه داشته می‌شود.'),
    commandForm({
      id: 'signin',
      fields: [{
        name: 'token', label: 'کلید ورود', required: true, dir: 'ltr', autocomplete: 'off',
        hint: 'با sz_ آغاز می‌شود', aliases: ['Authorization'],
      }],
      submit: 'ورود',
      onSubmit: async (v) => {
        if (!v.token) throw new FieldProblem({ formField: 'token', field: 'token', rule: 'is required' });
        const me = await whoami(v.token);
        remember(v.token, me);
        navigate(query.get('next') || homeOf(me.role));
      },
    }),
    h('p', {}, 'حساب ندارید؟ ', h('a', { href: '#/register' }, 'به عنوان مصرف‌کننده ثبت‌نام کنید'), '.'));
}

export function registerPage(main) {
  const result = h('div', { class: 'register-result' });
  main.append(
    pageTitle('ثبت‌نام مصرف‌کننده', 'برای ثبت شکایت از فروشگاه‌های دارای نماد اعتماد، یک بار ثبت‌نام کنید.'),
    commandForm({
      id: 'register',
      fields: [
        { name: 'name', label: 'نام و نام خانوادگی', required: true, autocomplete: 'name' },
        { name: 'national-code', label: 'کد ملی', required: true, inputmode: 'numeric', dir: 'ltr', hint: 'ده رقم', aliases: ['national_code'] },
        { name: 'mobile', label: 'شمارهٔ تلفن همراه', required: true, inputmode: 'tel', dir: 'ltr', autocomplete: 'tel', hint: 'مانند ۰۹۱۲۱۲۳۴۵۶۷' },
      ],
      submit: 'ثبت‌نام',
      onSubmit: async (v, form) => {
        const answer = await write('register-consumer', {
          name: v.name, 'national-code': latinDigits(v['national-code']), mobile: latinDigits(v.mobile),
        });
        const token = answer.credential?.token;
        const me = await whoami(token);
        remember(token, me);
        form.hidden = true;
        result.replaceChildren(tokenOnce(token, ['شما با شناسهٔ ', ltr(me.id), ' ثبت‌نام شدید و وارد شده‌اید.']),
          h('p', {}, h('a', { class: 'button', href: '#/consumer/file' }, 'ثبت شکایت')));
        result.querySelector('h2').focus();
        return '';
      },
    }),
    result);
}

// A freshly issued token: the only time anyone sees it, so the page says so plainly.
export function tokenOnce(token, intro) {
  return h('div', { class: 'token-once', role: 'region', 'aria-labelledby': 'token-once-title' },
    h('h2', { id: 'token-once-title', tabindex: '-1' }, 'کلید ورود'),
    intro ? h('p', {}, intro) : null,
    notice('این کلید فقط همین یک بار نمایش داده می‌شود و سامانه آن را نگه نمی‌دارد. آن را جایی امن یادداشت کنید.', 'warning'),
    h('label', { for: 'issued-token' }, 'کلید'),
    h('textarea', { id: 'issued-token', class: 'token', readonly: true, dir: 'ltr', rows: 3, spellcheck: 'false', 'data-token': token }, token));
}

export function forbiddenPage(main, role) {
  main.append(pageTitle('دسترسی ندارید'),
    h('p', {}, `این صفحه برای نقش «${roleName(role)}» نیست.`),
    h('p', {}, h('a', { href: `#${homeOf(role)}` }, 'بازگشت به صفحهٔ خودتان')));
}

export function notFoundPage(main) {
  main.append(pageTitle('صفحه پیدا نشد'), h('p', {}, h('a', { href: '#/' }, 'بازگشت به صفحهٔ نخست')));
}
