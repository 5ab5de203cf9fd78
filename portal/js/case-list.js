// Lists of cases as the queries give them (`cases`, `queue`), soonest deadline first.
import { h, ltr, table } from './dom.js';
import { caseLink, dueCell, statusBadge } from './layout.js';
import { categoryName, deadlineName, rials } from './fa.js';
import { jalaliText, parseTehranTime } from './dates.js';

// A row's `next_deadline` ("response 2026-11-07 09:00", Tehran time) as { kind, due }.
export function nextDeadline(row) {
  const m = /^(\S+) (.+)$/.exec(row.next_deadline ?? '');
  if (!m) return { kind: '', due: NaN };
  return { kind: m[1], due: parseTehranTime(m[2]) };
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
  if (!d.kind) return '—';
  return h('span', {}, deadlineName(d.kind), h('br'), dueCell(d.due));
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
