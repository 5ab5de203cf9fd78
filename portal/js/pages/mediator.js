// The mediator's page: the cases assigned to it now, soonest deadline first.
import { read } from '../api.js';
import { failure, loading, pageTitle, section } from '../layout.js';
import { caseTable } from '../case-list.js';
import { OPEN_STATUSES } from '../fa.js';
import { durationWords } from '../rules.js';

export async function mediatorHome(main) {
  const d = await durationWords();
  main.append(pageTitle('پرونده‌های میانجی‌گری',
    `${d ? `هر میانجی‌گری ${d.mediation} مهلت دارد` : 'هر میانجی‌گری مهلتی دارد که در جدول آمده است'}؛ در صفحهٔ هر پرونده پیام بفرستید، سازش پیشنهاد کنید و نتیجه را ثبت کنید.`));
  const wait = loading();
  main.append(wait);
  try {
    const rows = [await read('cases')].flat();
    wait.replaceWith(
      section('در جریان', caseTable(rows.filter((r) => OPEN_STATUSES.has(r.status)), 'پرونده‌های در جریان',
        ['case', 'status', 'deadline', 'category', 'business', 'amount'], 'پروندهٔ در جریانی ندارید.')),
      section('پایان‌یافته', caseTable(rows.filter((r) => !OPEN_STATUSES.has(r.status)), 'پرونده‌های پایان‌یافته',
        ['case', 'status', 'category', 'business'], 'پروندهٔ پایان‌یافته‌ای ندارید.')));
  } catch (problem) {
    wait.replaceWith(failure(problem));
  }
}
