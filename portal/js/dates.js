// Dates as people in Iran read them: the Solar Hijri (Jalali) calendar, Tehran time, Persian digits.
import { toJalaali } from '../node_modules/jalaali-js/dist/index.js';
import { digits } from './fa.js';

// Iran has kept +03:30 all year since 2022 (no daylight saving), so a fixed offset gives Tehran
// time without depending on the browser's time-zone data.
const TEHRAN_OFFSET_MS = 3.5 * 60 * 60 * 1000;

const MONTHS = ['فروردین', 'اردیبهشت', 'خرداد', 'تیر', 'مرداد', 'شهریور', 'مهر', 'آبان', 'آذر', 'دی',
  'بهمن', 'اسفند'];

const pad = (n) => String(n).padStart(2, '0');

function toMs(when) {
  if (when instanceof Date) return when.getTime();
  if (typeof when === 'number') return when;
  return Date.parse(when);
}

// The Jalali calendar date and Tehran wall-clock time of an instant.
export function jalaliParts(when) {
  const ms = toMs(when);
  if (!Number.isFinite(ms)) return null;
  const t = new Date(ms + TEHRAN_OFFSET_MS);
  const j = toJalaali(t.getUTCFullYear(), t.getUTCMonth() + 1, t.getUTCDate());
  return { year: j.jy, month: j.jm, day: j.jd, hour: t.getUTCHours(), minute: t.getUTCMinutes() };
}

// "۱۴۰۵/۰۸/۲۹ ساعت ۱۰:۰۰"
export function jalaliDateTime(when) {
  const p = jalaliParts(when);
  if (!p) return '';
  return digits(`${p.year}/${pad(p.month)}/${pad(p.day)}`) + ' ساعت ' + digits(`${pad(p.hour)}:${pad(p.minute)}`);
}

// A machine-readable value for <time datetime>.
export function isoString(when) {
  const ms = toMs(when);
  return Number.isFinite(ms) ? new Date(ms).toISOString() : '';
}

// "1405-08" (as `stats` names a month) -> "آبان ۱۴۰۵"
export function jalaliMonthName(key) {
  const m = /^(\d{4})-(\d{2})$/.exec(key ?? '');
  if (!m) return digits(key);
  return `${MONTHS[Number(m[2]) - 1]} ${digits(m[1])}`;
}

// The time left until `due` (or how long ago it passed), in words.
export function timeLeft(due, now = Date.now()) {
  const ms = toMs(due);
  if (!Number.isFinite(ms)) return '';
  const left = ms - now;
  const abs = Math.abs(left);
  const days = Math.floor(abs / 86_400_000);
  const hours = Math.floor((abs % 86_400_000) / 3_600_000);
  const minutes = Math.floor((abs % 3_600_000) / 60_000);
  const parts = [];
  if (days) parts.push(`${digits(days)} روز`);
  if (hours) parts.push(`${digits(hours)} ساعت`);
  if (!days && !hours) parts.push(`${digits(Math.max(minutes, 1))} دقیقه`);
  const span = parts.join(' و ');
  return left >= 0 ? `${span} مانده` : `${span} گذشته`;
}

// "1405/09/11 10:16", a Jalali time as the queries print it, in Persian digits with the word
// "ساعت" between date and time (two bare numbers side by side would swap places right to left).
export function jalaliText(text) {
  const m = /^(\d{4}\/\d{2}\/\d{2})(?: (\d{2}:\d{2}))?$/.exec(text ?? '');
  if (!m) return digits(text);
  return m[2] ? `${digits(m[1])} ساعت ${digits(m[2])}` : digits(m[1]);
}
