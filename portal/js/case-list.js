// Lists of cases as the queries give them (`cases`, `queue`), soonest deadline first.
import { h, ltr, table } from './dom.js';
import { caseLink, dueCell, statusBadge } from './layout.js';
import { categoryName, deadlineName, rials, roleName } from './fa.js';
import { jalaliText } from './dates.js';

// A row's earliest deadline: when it falls due (`next_due`, ISO 8601 UTC; NaN for none), who must
// act by then (`next_who`), and its kind, the first word of the display string `next_deadline`
// ("response 2026-11-07 09:00"), which is the only place a row names it.
export function nextDeadline(row) {
  return { kind: (row.next_deadline ?? '').split(' ')[0], due: Date.parse(row.next_due ?? ''), who: row.next_who ?? '' };
}

// Soonest deadline first; cases with none after, newest filed first among them.
export function byNextDeadline(rows) {
  return [...rows].sort((a, b) => {
    const da = nextDeadline(a).due;
    const db = nextDeadline(b).due;
    if (Number.isFinite(da) && Number.isFinite(db)) return da - db;
    if (Number.isFinite(da)) return -1;
    if (Number.isFinite(db)) return 1;
    return String(b.filed).localeCompare(String(a.filed));
  });
}

const deadlineCell = (row) => {
  const d = nextDeadline(row);
  if (!Number.isFinite(d.due)) return '—';
  return h('span', {}, deadlineName(d.kind),
    d.who ? [h('br'), h('span', { class: 'deadline-who' }, 'بر عهدهٔ ', roleName(d.who))] : null,
    h('br'), dueCell(d.due));
};

const COLUMNS = {
  case: { label: 'پرونده', cell: (r) => caseLink(r.case), rowHeader: true },
  status: { label: 'وضعیت', cell: (r) => statusBadge(r.status) },
  category: { label: 'دسته', cell: (r) => categoryName(r.category) },
  business: { label: 'فروشگاه', cell: (r) => ltr(r.business) },
  amount: { label: 'مبلغ', cell: (r) => rials(r.amount_rials) },
  filed: { label: 'تاریخ ثبت', cell: (r) => jalaliText(r.filed) },
  received: { label: 'دریافت', cell: (r) => jalaliText(r.received) },
  from: { label: 'از', cell: (r) => (r.from ? ltr(r.from) : 'کارشناس سامانه') },
  deadline: { label: 'مهلت بعدی', cell: deadlineCell },
};

export function caseTable(rows, caption, columns = ['case', 'status', 'category', 'business', 'filed', 'deadline'], empty) {
  return table({ caption, captionHidden: true, columns: columns.map((c) => COLUMNS[c]), rows: byNextDeadline(rows), empty });
}
