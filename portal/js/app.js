// The portal's entry: the routes, who may open each, and the frame around every page.
import { h, ltr } from './dom.js';
import { route, resolve, start, navigate } from './router.js';
import { current, forget, SESSION_CHANGED } from './session.js';
import { roleName } from './fa.js';
import { forbiddenPage, homeOf, notFoundPage, registerPage, signInPage } from './pages/account.js';
import { publicPage } from './pages/public.js';
import { casePage } from './pages/case.js';
import { consumerHome, filePage } from './pages/consumer.js';
import { shopInbox, shopScore } from './pages/shop.js';
import { operatorParties, operatorQueue, operatorSeals } from './pages/operator.js';
import { mediatorHome } from './pages/mediator.js';
import { agencyQueue } from './pages/agency.js';
import { auditCase, auditorHome } from './pages/auditor.js';
import { analystPage } from './pages/analyst.js';
import { pageTitle } from './layout.js';

const ANYONE = null;
const CASE_READERS = ['consumer', 'business', 'operator', 'mediator', 'agency', 'auditor'];

// pattern, document title, who may open it, page
const PAGES = [
  ['/', 'سازش', ANYONE, landingPage],
  ['/public', 'جایگاه فروشگاه‌ها', ANYONE, publicPage],
  ['/signin', 'ورود', ANYONE, signInPage],
  ['/register', 'ثبت‌نام', ANYONE, registerPage],
  ['/case/:id', 'پرونده', CASE_READERS, casePage],
  ['/consumer', 'پرونده‌های من', ['consumer'], consumerHome],
  ['/consumer/file', 'ثبت شکایت', ['consumer'], filePage],
  ['/shop', 'صندوق شکایت‌ها', ['business'], shopInbox],
  ['/shop/score', 'کارنامه و امتیاز', ['business'], shopScore],
  ['/operator', 'صف رسیدگی', ['operator'], operatorQueue],
  ['/operator/parties', 'ثبت طرف‌ها و کلیدها', ['operator'], operatorParties],
  ['/operator/seals', 'نماد اعتماد', ['operator'], operatorSeals],
  ['/mediator', 'میانجی‌گری', ['mediator'], mediatorHome],
  ['/agency', 'صف مرجع', ['agency'], agencyQueue],
  ['/auditor', 'حسابرسی', ['auditor', 'operator'], auditorHome],
  ['/audit/:id', 'حسابرسی پرونده', ['auditor', 'operator'], auditCase],
  ['/analyst', 'آمار', ['analyst', 'operator', 'auditor'], analystPage],
];

const NAV = {
  anonymous: [['/public', 'جایگاه فروشگاه‌ها'], ['/register', 'ثبت‌نام'], ['/signin', 'ورود']],
  consumer: [['/consumer', 'پرونده‌های من'], ['/consumer/file', 'ثبت شکایت'], ['/public', 'جایگاه فروشگاه‌ها']],
  business: [['/shop', 'صندوق شکایت‌ها'], ['/shop/score', 'کارنامه و امتیاز'], ['/public', 'جایگاه فروشگاه‌ها']],
  operator: [['/operator', 'صف رسیدگی'], ['/operator/parties', 'ثبت و کلیدها'], ['/operator/seals', 'نماد اعتماد'],
    ['/analyst', 'آمار'], ['/auditor', 'حسابرسی'], ['/public', 'جایگاه فروشگاه‌ها']],
  mediator: [['/mediator', 'پرونده‌های میانجی‌گری'], ['/public', 'جایگاه فروشگاه‌ها']],
  agency: [['/agency', 'صف مرجع'], ['/public', 'جایگاه فروشگاه‌ها']],
  auditor: [['/auditor', 'حسابرسی'], ['/analyst', 'آمار'], ['/public', 'جایگاه فروشگاه‌ها']],
  analyst: [['/analyst', 'آمار'], ['/public', 'جایگاه فروشگاه‌ها']],
};

for (const [pattern, title, who, render] of PAGES) route(pattern, { title, who, render });

function landingPage(main, params, session) {
  if (session) {
    navigate(homeOf(session.role));
    return;
  }
  main.append(
    pageTitle('سازش: رسیدگی به شکایت از فروشگاه‌های اینترنتی',
      'اگر از فروشگاهی که نماد اعتماد الکترونیکی دارد شکایت دارید، این‌جا ثبت کنید. شکایت شما برای فروشگاه فرستاده می‌شود، مهلت‌های پاسخ پیگیری می‌شود و اگر لازم باشد میانجی یا مرجع رسیدگی وارد می‌شود.'),
    h('ul', { class: 'entry-links' },
      h('li', {}, h('a', { class: 'button', href: '#/register' }, 'ثبت‌نام و ثبت شکایت')),
      h('li', {}, h('a', { class: 'button secondary', href: '#/signin' }, 'ورود با کلید')),
      h('li', {}, h('a', { class: 'button secondary', href: '#/public' }, 'جایگاه فروشگاه‌ها'))));
}

function renderNav(session) {
  const nav = document.getElementById('site-nav');
  const links = NAV[session?.role ?? 'anonymous'] ?? NAV.anonymous;
  const here = location.hash.slice(1) || '/';
  nav.replaceChildren(h('ul', {}, links.map(([path, label]) =>
    h('li', {}, h('a', { href: `#${path}`, 'aria-current': here === path ? 'page' : false }, label)))));
  const who = document.getElementById('signed-in');
  if (session) {
    who.replaceChildren(
      h('span', {}, `${roleName(session.role)}: `, ltr(session.id)),
      h('button', { type: 'button', class: 'button small secondary', onclick: () => { forget(); navigate('/'); } }, 'خروج'));
  } else {
    who.replaceChildren();
  }
}

async function show({ path, query }) {
  const session = current();
  renderNav(session);
  // Each navigation renders into a fresh view: a slow page that finishes after the reader has
  // moved on writes into a view no longer in the document.
  const main = h('div', { class: 'view' });
  const frame = document.getElementById('main');
  frame.replaceChildren(main);
  frame.setAttribute('aria-busy', 'true');
  delete frame.dataset.rendered;
  const found = resolve(path);
  let title = 'صفحه پیدا نشد';
  if (!found) {
    notFoundPage(main);
  } else if (found.page.who && !session) {
    navigate(`/signin?next=${encodeURIComponent(path)}`);
    return;
  } else if (Array.isArray(found.page.who) && !found.page.who.includes(session.role)) {
    title = 'دسترسی ندارید';
    forbiddenPage(main, session.role);
  } else {
    title = found.page.title;
    await found.page.render(main, found.params, session, query);
  }
  if (!main.isConnected) return;
  document.title = `${title} · سازش`;
  frame.removeAttribute('aria-busy');
  // Which route the page now shows in full (tests wait for it; nothing else reads it).
  frame.dataset.rendered = path;
  // Focus the heading only after a navigation, not on the first load of a page, so the
  // skip link stays the first stop for keyboard users.
  if (started) document.getElementById('page-title')?.focus({ preventScroll: false });
  started = true;
}

let started = false;

window.addEventListener(SESSION_CHANGED, () => renderNav(current()));

// The skip link moves focus without changing the hash, which holds the page's route.
document.querySelector('.skip-link')?.addEventListener('click', (event) => {
  event.preventDefault();
  document.getElementById('main').focus();
});

start(show);
