// One case, for everyone it concerns: where it stands, every deadline (who must act, by when),
// what the reader may do now, the documents, and the whole history in Persian.
import { h, ltr, notice } from '../dom.js';
import { read, readLines, write, fetchDocument } from '../api.js';
import { foldCase } from '../casefile.js';
import { timeline } from '../timeline.js';
import { caseActions } from '../case-actions.js';
import {
  dueCell, failure, keyValues, loading, pageTitle, section, statusBadge, when,
} from '../layout.js';
import { categoryName, deadlineName, digits, documentKindName, remedyName, rials, roleName } from '../fa.js';
import { jalaliDateTime } from '../dates.js';
import { persianMessage } from '../problems.js';

// A success message carried over the reload that follows a command.
let flash = '';

export function flashNext(text) {
  flash = text;
}

export async function casePage(main, { id }, session) {
  main.append(pageTitle(['پرونده ', ltr(id)]));
  const status = loading();
  main.append(status);
  let show;
  let lines;
  try {
    [show, lines] = await Promise.all([read('show', { case: id }), readLines('events', { case: id })]);
  } catch (problem) {
    status.replaceWith(failure(problem, 'پرونده'));
    return;
  }
  const c = foldCase(lines);
  const reload = () => {
    main.replaceChildren();
    return casePage(main, { id }, session);
  };
  const act = async (command, body, done) => {
    await write(command, { case: id, ...body });
    flash = done;
    await reload();
    return done;
  };

  const parts = [];
  const done = flash ? notice(flash, 'success') : null;
  flash = '';
  if (done) {
    done.tabIndex = -1;
    parts.push(done);
  }
  parts.push(summary(c, show));
  parts.push(section('مهلت‌ها', deadlines(show.deadlines ?? [])));
  const forms = await caseActions(c, { status: show.status, role: session.role, id: session.id, act });
  if (forms.length) parts.push(section('کارهایی که اکنون می‌توانید انجام دهید', h('div', { class: 'actions-list' }, forms)));
  if (session.role === 'agency') parts.push(await dossierSection(session.id, id));
  parts.push(section('مدارک', documents(c)));
  parts.push(section('روند پرونده', timeline(lines)));
  status.replaceWith(...parts);
  // The form that was used is gone with the reload: the outcome takes the keyboard focus.
  done?.focus();
}

function summary(c, show) {
  return h('div', { class: 'case-summary panel' },
    h('p', { class: 'case-status' }, 'وضعیت: ', statusBadge(show.status)),
    keyValues([
      ['دسته', categoryName(show.category || c.category)],
      ['فروشگاه', ltr(c.business)],
      ['مصرف‌کننده', ltr(c.consumer)],
      ['شمارهٔ سفارش', ltr(c.orderRef)],
      ['مبلغ', rials(c.amount)],
      ['درخواست', remedyName(c.requestedRemedy)],
      ['تاریخ ثبت', when(c.filedAt)],
      c.mediator ? ['میانجی', ltr(c.mediator)] : null,
      c.agency ? ['مرجع رسیدگی', ltr(c.agency)] : null,
    ]),
    c.description ? h('blockquote', { class: 'case-description' }, c.description) : null);
}

// Every running deadline: what, who must act, by when (Jalali) and how long is left.
function deadlines(list) {
  if (!list.length) return h('p', { class: 'empty' }, 'اکنون مهلتی در جریان نیست.');
  const sorted = [...list].sort((a, b) => Date.parse(a.due) - Date.parse(b.due));
  return h('ul', { class: 'deadlines' }, sorted.map((d) => h('li', { class: 'deadline', 'data-kind': d.kind },
    h('span', { class: 'deadline-kind' }, deadlineName(d.kind)),
    h('span', { class: 'deadline-who' }, 'بر عهدهٔ ', roleName(d.who)),
    dueCell(Date.parse(d.due)))));
}

function documents(c) {
  const missing = c.requiredDocuments.filter((k) => !c.documents.some((d) => d.kind === k));
  return [
    missing.length ? notice(`مدارک لازمی که هنوز نرسیده: ${missing.map(documentKindName).join('، ')}`, 'warning') : null,
    c.documents.length
      ? h('ul', { class: 'documents' }, c.documents.map((d) => h('li', {},
        h('span', {}, documentKindName(d.kind), ': ', ltr(d.fileName), ` (${digits(d.size)} بایت، ${roleName(d.by)}، ${jalaliDateTime(d.at)})`),
        ' ', downloadButton(d, c.id))))
      : h('p', { class: 'empty' }, 'مدرکی پیوست نشده است.'),
  ];
}

// Documents need the credential, so a button fetches the bytes and hands them to the browser.
function downloadButton(doc, caseId) {
  const button = h('button', { type: 'button', class: 'button small secondary' }, 'دریافت ', h('span', { class: 'visually-hidden' }, doc.fileName));
  const result = h('span', { role: 'status' });
  button.addEventListener('click', async () => {
    try {
      const blob = await fetchDocument(doc.sha256, caseId);
      const url = URL.createObjectURL(blob);
      const a = h('a', { href: url, download: doc.fileName });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (problem) {
      result.textContent = persianMessage(problem);
    }
  });
  return [button, result];
}

// What the agency's dossier adds: the parties' own details, which only the holder reads.
async function dossierSection(agency, caseId) {
  try {
    const d = await read('dossier', { agency, case: caseId });
    return section('پروندهٔ کامل (دوسیه)', keyValues([
      ['مصرف‌کننده', d.consumer?.name ?? ''],
      ['کد ملی', ltr(d.consumer?.national_code ?? '')],
      ['تلفن همراه', ltr(d.consumer?.mobile ?? '')],
      ['فروشگاه', [d.business?.name ?? '', ' ', ltr(d.business?.domain ?? '')]],
      ['نماد اعتماد', d.business?.restricted ? 'محدودشده' : 'فعال'],
      ['دریافت از', d.received_from ? ltr(d.received_from) : 'کارشناس سامانه'],
      ['زمان دریافت', d.received_at ? when(d.received_at) : '—'],
      ['مراجعی که پرونده را داشته‌اند', (d.agencies ?? []).map((a, i) => [i ? '، ' : '', ltr(a)])],
      ['نگه‌دارندهٔ کنونی', d.holds_case ? 'همین مرجع' : 'مرجع دیگر'],
    ]));
  } catch (problem) {
    return section('پروندهٔ کامل (دوسیه)', failure(problem, 'دوسیه'));
  }
}
