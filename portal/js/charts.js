// Charts (Chart.js, drawn on a canvas) with what a canvas cannot give: a text summary for screen
// readers, the same numbers as a table, and a CSV download of them.
import '../node_modules/chart.js/dist/chart.umd.min.js';
import { h, table, uid } from './dom.js';
import { digits, number } from './fa.js';
import { downloadCsv, toCsv } from './csv.js';

// The UMD build sets a global when loaded as a module; it needs no import map (the page's
// Content-Security-Policy allows no inline script) and no bundler.
const { Chart } = globalThis;

Chart.defaults.font.family = 'Vazirmatn, system-ui, sans-serif';
Chart.defaults.font.size = 13;
Chart.defaults.color = '#1f2933';
Chart.defaults.animation = false;

// Colours distinguishable with the common colour-vision deficiencies (Okabe & Ito's palette).
export const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#D55E00', '#F0E442', '#000000', '#999999', '#7f3c8d'];

// spec: { id, title, description, labels: [..], datasets: [{ label, data: [..] }], stacked,
//         horizontal, csv: { file, header: [...], rows: [[...]] } }
export function chartFigure(spec) {
  const titleId = uid('chart-title');
  const canvas = h('canvas', { role: 'img', 'aria-label': `${spec.title}. ${spec.description ?? ''}` });
  const figure = h('figure', { class: 'chart', id: spec.id, 'aria-labelledby': titleId },
    h('figcaption', { id: titleId }, h('h3', {}, spec.title), spec.description ? h('p', {}, spec.description) : null),
    h('div', { class: 'chart-box' }, canvas),
    h('div', { class: 'chart-tools' },
      h('button', { type: 'button', class: 'button small secondary', 'data-csv': spec.csv.file,
        onclick: () => downloadCsv(spec.csv.file, toCsv(spec.csv.header, spec.csv.rows)) },
      'دریافت CSV', h('span', { class: 'visually-hidden' }, `: ${spec.title}`))),
    h('details', { class: 'chart-data' }, h('summary', {}, 'داده‌های نمودار به صورت جدول'),
      table({
        caption: spec.title,
        columns: [{ label: spec.labelHeading ?? '', cell: (i) => spec.labels[i], rowHeader: true },
          ...spec.datasets.map((d) => ({ label: d.label, cell: (i) => number(d.data[i]) }))],
        rows: spec.labels.map((_, i) => i),
      })));

  if (!spec.labels.length) {
    figure.querySelector('.chart-box').replaceWith(h('p', { class: 'empty' }, 'هنوز داده‌ای نیست.'));
    figure.querySelector('.chart-data').remove();
    return { figure, draw: () => {} };
  }
  // Drawn once the figure is in the document, so the chart can size itself to its box.
  const draw = () => new Chart(canvas, {
    type: 'bar',
    data: {
      labels: spec.labels,
      datasets: spec.datasets.map((d, i) => ({ ...d, backgroundColor: PALETTE[i % PALETTE.length], maxBarThickness: 56 })),
    },
    options: {
      indexAxis: spec.horizontal ? 'y' : 'x',
      maintainAspectRatio: false,
      locale: 'fa-IR',
      plugins: {
        legend: { display: spec.datasets.length > 1, rtl: true, position: 'bottom' },
        tooltip: { rtl: true, callbacks: { label: (ctx) => `${ctx.dataset.label}: ${digits(ctx.formattedValue)}` } },
      },
      scales: {
        // Right to left: the first month at the right, and horizontal bars growing leftwards.
        x: { stacked: spec.stacked, reverse: true, beginAtZero: true, ticks: { precision: 0, callback: tickLabel(spec.horizontal) } },
        y: { stacked: spec.stacked, position: 'right', beginAtZero: true, ticks: { precision: 0, callback: tickLabel(!spec.horizontal) } },
      },
    },
  });
  return { figure, draw };
}

// The value axis in Persian digits; the category axis shows its labels as given.
function tickLabel(isValueAxis) {
  return function label(value) {
    return isValueAxis ? digits(value) : this.getLabelForValue(value);
  };
}
