// Building the page from data without innerHTML: every string becomes a text node, so nothing a
// consumer or a shop typed can ever run as markup.

// h('a', { href: '#/x', class: 'button' }, 'text', child, [more, children])
// Attributes: `class`, `for`, aria-* and data-* as given; `on*` functions become listeners;
// `false`, null and undefined leave an attribute out; `true` sets it empty.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      el.addEventListener(name.slice(2).toLowerCase(), value);
    } else if (name === 'value' && 'value' in el) {
      el.value = value;
    } else {
      el.setAttribute(name, value === true ? '' : String(value));
    }
  }
  append(el, children);
  return el;
}

export function append(parent, children) {
  for (const child of [children].flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return parent;
}

// Text that is not Persian (ids, tokens, English rules from the API): isolated and marked, so it
// neither scrambles the right-to-left line nor is read out with Persian pronunciation.
export function ltr(text, lang = 'en') {
  return h('bdi', { dir: 'ltr', lang, class: 'ltr' }, text);
}

let idCounter = 0;
// A unique element id, for label/for and aria-describedby pairs.
export function uid(prefix) {
  idCounter += 1;
  return `${prefix}-${idCounter}`;
}

// A table that a phone shows as one card per row (each cell with its column's name beside it),
// and a wider screen as a table, scrollable by keyboard if it must scroll (the region is focusable).
// The roles are explicit because restyling table parts as blocks makes Chromium drop them.
// `captionHidden`: the caption is for screen readers only, where a heading above says the same.
export function table({ caption, columns, rows, empty = 'موردی نیست.', captionHidden = false }) {
  if (!rows.length) return h('p', { class: 'empty' }, empty);
  const head = h('tr', { role: 'row' }, columns.map((c) => h('th', { scope: 'col', role: 'columnheader' }, c.label)));
  const body = rows.map((row) => h('tr', { role: 'row' }, columns.map((c, i) => {
    const cell = c.cell(row);
    return i === 0 && c.rowHeader
      ? h('th', { scope: 'row', role: 'rowheader', 'data-label': c.label }, cell)
      : h('td', { role: 'cell', 'data-label': c.label }, cell);
  })));
  const captionId = uid('caption');
  return h('div', { class: 'table-scroll', role: 'region', 'aria-labelledby': captionId, tabindex: '0' },
    h('table', { role: 'table' },
      h('caption', { id: captionId, class: captionHidden ? 'visually-hidden' : false }, caption),
      h('thead', { role: 'rowgroup' }, head), h('tbody', { role: 'rowgroup' }, body)));
}

// A short status line that screen readers announce when it changes.
export function notice(text, kind = 'info') {
  return h('div', { class: `notice notice-${kind}`, role: kind === 'error' ? 'alert' : 'status' }, text);
}
