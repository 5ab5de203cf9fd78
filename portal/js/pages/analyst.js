// The analyst's page: complaints per month and category, outcomes, how shops answer, and the
// shops with the most unanswered complaints. Aggregates only: no personal data is read here.
import { h } from '../dom.js';
import { read } from '../api.js';
import { chartFigure } from '../charts.js';
import { failure, loading, pageTitle, section } from '../layout.js';
import { categoryName, outcomeName } from '../fa.js';
import { jalaliMonthName } from '../dates.js';
import { durationWords } from '../rules.js';

const unique = (values) => [...new Set(values)];

function monthly(rows) {
  return {
    id: 'chart-month', title: 'شکایت‌ها در هر ماه', labelHeading: 'ماه',
    description: 'شمار شکایت‌های ثبت‌شده در هر ماه خورشیدی.',
    labels: rows.map((r) => jalaliMonthName(r.month)),
    datasets: [{ label: 'شکایت‌ها', data: rows.map((r) => r.cases) }],
    csv: { file: 'complaints-by-month.csv', header: ['month', 'cases'], rows: rows.map((r) => [r.month, r.cases]) },
  };
}

function monthByCategory(rows) {
  const months = unique(rows.map((r) => r.month)).sort();
  const categories = unique(rows.map((r) => r.category));
  const countOf = (m, c) => rows.find((r) => r.month === m && r.category === c)?.cases ?? 0;
  return {
    id: 'chart-month-category', title: 'شکایت‌ها در هر ماه، به تفکیک دسته', labelHeading: 'ماه', stacked: true,
    description: 'هر ستون یک ماه است و هر رنگ یک دستهٔ شکایت.',
    labels: months.map(jalaliMonthName),
    datasets: categories.map((c) => ({ label: categoryName(c), data: months.map((m) => countOf(m, c)) })),
    csv: { file: 'complaints-by-month-and-category.csv', header: ['month', 'category', 'cases'], rows: rows.map((r) => [r.month, r.category, r.cases]) },
  };
}

function byCategory(rows) {
  const sorted = [...rows].sort((a, b) => b.cases - a.cases);
  return {
    id: 'chart-category', title: 'دسته‌های شکایت', labelHeading: 'دسته', horizontal: true,
    description: 'شمار همهٔ شکایت‌ها در هر دسته.',
    labels: sorted.map((r) => categoryName(r.category)),
    datasets: [{ label: 'شکایت‌ها', data: sorted.map((r) => r.cases) }],
    csv: { file: 'complaints-by-category.csv', header: ['category', 'cases'], rows: sorted.map((r) => [r.category, r.cases]) },
  };
}

function outcomes(rows) {
  const sorted = [...rows].sort((a, b) => b.cases - a.cases);
  return {
    id: 'chart-outcome', title: 'سرانجام پرونده‌ها', labelHeading: 'سرانجام', horizontal: true,
    description: 'پرونده‌ها بر پایهٔ آنچه بر سرشان آمد: سازش، رأی مرجع، رد، پس گرفتن یا هنوز باز.',
    labels: sorted.map((r) => outcomeName(r.outcome)),
    datasets: [{ label: 'پرونده‌ها', data: sorted.map((r) => r.cases) }],
    csv: { file: 'case-outcomes.csv', header: ['outcome', 'cases'], rows: sorted.map((r) => [r.outcome, r.cases]) },
  };
}

// How shops answer on the ladder: before the first rung (`response_first` in the rules), after
// it, or never. `d`: the rules' lengths in words, or null when they could not be read.
function responseTimes(cards, d) {
  const shops = cards.filter((c) => c.forwarded > 0);
  const series = [
    ['timely_responses', d ? `پاسخ پیش از ${d.response_first}` : 'پاسخ پیش از مهلت نخست'],
    ['late_responses', 'پاسخ پس از مهلت نخست'],
    ['unanswered', 'بی‌پاسخ پس از هر سه مهلت'],
  ];
  return {
    id: 'chart-response', title: 'زمان پاسخ فروشگاه‌ها', labelHeading: 'فروشگاه', horizontal: true, stacked: true,
    description: `شکایت‌های فرستاده‌شده به هر فروشگاه، بر پایهٔ این‌که در کدام پلهٔ نردبان پاسخ${
      d ? ` (${d.response_first}، ${d.response_second} و ${d.response_final})` : ''} پاسخ گرفتند.`,
    labels: shops.map((c) => c.domain),
    datasets: series.map(([key, label]) => ({ label, data: shops.map((c) => c[key] ?? 0) })),
    csv: {
      file: 'response-times-by-shop.csv',
      header: ['business', 'domain', 'forwarded', 'timely_responses', 'late_responses', 'delays_1', 'delays_2', 'unanswered'],
      rows: shops.map((c) => [c.business, c.domain, c.forwarded, c.timely_responses, c.late_responses, c.delays_1, c.delays_2, c.unanswered]),
    },
  };
}

function topUnanswered(rows) {
  const shops = rows.filter((r) => r.unanswered > 0);
  return {
    id: 'chart-top-unanswered', title: 'فروشگاه‌های با بیشترین شکایت بی‌پاسخ', labelHeading: 'فروشگاه', horizontal: true,
    description: 'ده فروشگاهی که بیشترین شکایت بی‌پاسخ را دارند.',
    labels: shops.map((r) => r.domain),
    datasets: [{ label: 'بی‌پاسخ', data: shops.map((r) => r.unanswered) }],
    csv: { file: 'top-unanswered.csv', header: ['business', 'domain', 'unanswered', 'complaints'], rows: shops.map((r) => [r.business, r.domain, r.unanswered, r.complaints]) },
  };
}

export async function analystPage(main) {
  main.append(pageTitle('آمار شکایت‌ها', 'هر نمودار با جدول داده‌هایش و فایل CSV همراه است.'));
  const wait = loading();
  main.append(wait);
  let data;
  try {
    const list = (by) => read('stats', { by }).then((r) => [r].flat());
    const [month, monthCategory, category, outcome, cards, top, durations] = await Promise.all([
      list('month'), list('month_category'), list('category'), list('outcome'),
      read('scorecard').then((r) => [r].flat()), read('top', { by: 'unanswered', n: 10 }).then((r) => [r].flat()),
      durationWords()]);
    data = { month, monthCategory, category, outcome, cards, top, durations };
  } catch (problem) {
    wait.replaceWith(failure(problem));
    return;
  }
  const charts = [
    monthly(data.month), monthByCategory(data.monthCategory), byCategory(data.category),
    outcomes(data.outcome), responseTimes(data.cards, data.durations), topUnanswered(data.top),
  ].map(chartFigure);
  const pair = (a, b) => h('div', { class: 'charts-grid' }, a.figure, b.figure);
  wait.replaceWith(
    section('شکایت‌ها در گذر زمان', pair(charts[0], charts[1])),
    section('دسته‌ها و سرانجام', pair(charts[2], charts[3])),
    section('فروشگاه‌ها', pair(charts[4], charts[5])),
    h('p', { class: 'hint' }, 'شمارها از نمای آماری سامانه خوانده می‌شوند و هیچ دادهٔ شخصی در آن‌ها نیست.'));
  for (const c of charts) c.draw();
}
