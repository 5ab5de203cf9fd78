// The agency's page: the cases it holds, with their deadlines, and those it held before.
import { read } from '../api.js';
import { failure, loading, pageTitle, section } from '../layout.js';
import { caseTable } from '../case-list.js';

export async function agencyQueue(main, params, session) {
  main.append(pageTitle('صف مرجع رسیدگی',
    'هر ارجاع ظرف هفت روز کاری اعلام وصول و ظرف سی روز رأی می‌خواهد (یک بار قابل تمدید). دوسیهٔ کامل و مدارک در صفحهٔ هر پرونده است.'));
  const wait = loading();
  main.append(wait);
  try {
    const rows = [await read('queue', { agency: session.id, all: true })].flat();
    const held = rows.filter((r) => r.status === 'referred' && !r.left_to);
    const past = rows.filter((r) => !held.includes(r));
    wait.replaceWith(
      section('در دست این مرجع', caseTable(held, 'پرونده‌های در دست', ['case', 'deadline', 'category', 'business', 'amount', 'received', 'from'], 'پرونده‌ای در دست ندارید.')),
      section('سپرده‌شده یا رأی‌داده', caseTable(past, 'پرونده‌های پیشین', ['case', 'status', 'category', 'business', 'received', 'from'], 'پروندهٔ پیشینی نیست.')));
  } catch (problem) {
    wait.replaceWith(failure(problem));
  }
}
