// Forms in the GOV.UK manner, right to left: every control has a visible label, hints are tied to
// their control, and a refusal is shown twice: in a summary at the top that links to each field
// and beside the field itself, in Persian, with the API's own `field` and `rule`.
import { h, ltr, uid } from './dom.js';
import { ApiProblem } from './api.js';
import { normalizeField, persianMessage } from './problems.js';

// Field spec:
//   { name, label, type: text (default)|textarea|select|file|checkboxes, hint, required,
//     options: [[value, label]], placeholder, value, dir, inputmode, autocomplete, accept, rows,
//     aliases: [apiField] }
// `name` is the API's option name (e.g. "national-code"); the API may name it in a problem as
// "national_code", or by an alias (a file field answers for "Content-Type" while it uploads).
function control(spec, id, describedBy) {
  const common = {
    id,
    name: spec.name,
    required: spec.required ?? false,
    'aria-describedby': describedBy || false,
    dir: spec.dir ?? false,
    inputmode: spec.inputmode ?? false,
    autocomplete: spec.autocomplete ?? false,
  };
  switch (spec.type) {
    case 'textarea':
      return h('textarea', { ...common, rows: spec.rows ?? 4 }, spec.value ?? '');
    case 'select':
      return h('select', common,
        spec.placeholder ? h('option', { value: '' }, spec.placeholder) : null,
        (spec.options ?? []).map(([value, label]) =>
          h('option', { value, selected: String(spec.value ?? '') === String(value) }, label)));
    case 'file':
      return h('input', { ...common, type: 'file', accept: spec.accept ?? false });
    default:
      return h('input', { ...common, type: spec.type ?? 'text', value: spec.value ?? '', spellcheck: spec.dir === 'ltr' ? 'false' : false });
  }
}

function checkboxGroup(spec, id, errorId, hintId) {
  const boxes = (spec.options ?? []).map(([value, label], i) => {
    const boxId = `${id}-${i}`;
    return h('div', { class: 'choice' },
      h('input', { type: 'checkbox', id: boxId, name: spec.name, value, checked: (spec.value ?? []).includes(value) }),
      h('label', { for: boxId }, label));
  });
  return h('fieldset', { class: 'field', id, 'aria-describedby': hintId || false, 'data-field': spec.name, 'data-aliases': aliasesOf(spec), tabindex: '-1' },
    h('legend', {}, spec.label),
    spec.hint ? h('p', { class: 'hint', id: hintId }, spec.hint) : null,
    h('p', { class: 'field-error', id: errorId, hidden: true }),
    h('div', { class: 'choices' }, boxes));
}

const aliasesOf = (spec) => (spec.aliases ?? []).join(' ') || false;

// One labelled control with its hint and its (hidden) error line; `formId` keeps ids unique.
export function field(spec, formId) {
  const id = `${formId}-${spec.name}`;
  const hintId = spec.hint ? `${id}-hint` : '';
  const errorId = `${id}-error`;
  if (spec.type === 'checkboxes') return checkboxGroup(spec, id, errorId, hintId);
  const input = control(spec, id, hintId);
  return h('div', { class: 'field', 'data-field': spec.name, 'data-aliases': aliasesOf(spec) },
    h('label', { for: id }, spec.label, spec.required ? null : h('span', { class: 'optional' }, ' (اختیاری)')),
    spec.hint ? h('p', { class: 'hint', id: hintId }, spec.hint) : null,
    h('p', { class: 'field-error', id: errorId, hidden: true }),
    input);
}

function valuesOf(form, specs) {
  const values = {};
  for (const spec of specs) {
    if (spec.type === 'checkboxes') {
      values[spec.name] = [...form.querySelectorAll(`input[name="${spec.name}"]:checked`)].map((b) => b.value);
    } else if (spec.type === 'file') {
      values[spec.name] = form.elements[spec.name]?.files?.[0] ?? null;
    } else {
      values[spec.name] = (form.elements[spec.name]?.value ?? '').trim();
    }
  }
  return values;
}

// The API's own field and rule, as it gave them.
export function problemDetail(problem) {
  if (!problem.field && !problem.rule) return null;
  return h('span', { class: 'problem-detail' },
    '(', problem.field ? ['فیلد: ', ltr(problem.field)] : null,
    problem.field && problem.rule ? '؛ ' : null,
    problem.rule ? ['قاعده: ', ltr(problem.rule)] : null, ')');
}

// What went wrong, in Persian, with the API's field and rule.
export function problemText(problem, label) {
  return [h('span', { class: 'problem-message' }, persianMessage(problem, label)), ' ', problemDetail(problem)];
}

// A form that sends one command. `onSubmit(values)` does the work and may throw an ApiProblem
// (or a FieldProblem, for a check the page makes itself); what it returns, if a string or a
// node, is shown as the outcome.
export function commandForm({ id, title, intro, fields = [], submit, onSubmit, secondary = false }) {
  const formId = id ?? uid('form');
  const summaryId = `${formId}-summary`;
  const summary = h('div', { class: 'error-summary', id: summaryId, tabindex: '-1', hidden: true, role: 'alert' });
  const outcome = h('div', { class: 'form-outcome', role: 'status' });
  const button = h('button', { type: 'submit', class: secondary ? 'button secondary' : 'button' }, submit);
  const form = h('form', { id: formId, novalidate: true, 'aria-labelledby': title ? `${formId}-title` : false },
    title ? h('h3', { id: `${formId}-title` }, title) : null,
    intro ? h('p', { class: 'intro' }, intro) : null,
    summary,
    fields.map((f) => field(f, formId)),
    h('div', { class: 'actions' }, button),
    outcome);

  const clearErrors = () => {
    summary.hidden = true;
    summary.replaceChildren();
    for (const el of form.querySelectorAll('.field-error')) {
      el.hidden = true;
      el.replaceChildren();
    }
    for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
    for (const el of form.querySelectorAll('.field-has-error')) el.classList.remove('field-has-error');
  };

  // The control a problem concerns: the one the page named, else the one whose name (or alias)
  // is the problem's field. Looked up in the form itself, so fields added later count too.
  const locate = (problem) => {
    const boxes = [...form.querySelectorAll('[data-field]')];
    if (problem.formField) return boxes.find((b) => b.dataset.field === problem.formField) ?? null;
    const wanted = normalizeField(problem.field);
    if (!wanted) return null;
    return boxes.find((b) => [b.dataset.field, ...(b.dataset.aliases ?? '').split(' ')]
      .filter(Boolean).map(normalizeField).includes(wanted)) ?? null;
  };

  const showProblem = (problem) => {
    const box = locate(problem);
    const item = h('li', {});
    if (box) {
      const label = (box.querySelector(':scope > label, :scope > legend')?.textContent ?? '').replace(' (اختیاری)', '');
      const errorEl = box.querySelector('.field-error');
      errorEl.replaceChildren(h('span', { class: 'visually-hidden' }, 'خطا: '), ...problemText(problem, label));
      errorEl.hidden = false;
      box.classList.add('field-has-error');
      const isGroup = box.tagName === 'FIELDSET';
      const target = isGroup ? box : box.querySelector('input, select, textarea');
      target.setAttribute('aria-invalid', 'true');
      const described = new Set((target.getAttribute('aria-describedby') ?? '').split(' ').filter(Boolean));
      described.add(errorEl.id);
      target.setAttribute('aria-describedby', [...described].join(' '));
      // A link to the field that moves focus there, without touching the page's hash route.
      item.append(h('a', {
        href: `#${target.id}`,
        onclick: (event) => {
          event.preventDefault();
          target.focus();
        },
      }, persianMessage(problem, label)));
    } else {
      item.append(...problemText(problem, ''));
    }
    summary.replaceChildren(h('h4', {}, 'این کار انجام نشد'), h('ul', {}, item));
    summary.hidden = false;
    summary.focus();
  };

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearErrors();
    outcome.replaceChildren();
    button.disabled = true;
    const label = button.textContent;
    button.textContent = 'در حال فرستادن…';
    try {
      const result = await onSubmit(valuesOf(form, fields), form);
      if (result instanceof Node || typeof result === 'string') outcome.replaceChildren(result);
    } catch (err) {
      if (err instanceof ApiProblem || err instanceof FieldProblem) showProblem(err);
      else {
        showProblem({ code: 'io', field: '', rule: String(err?.message ?? err) });
        console.error(err);
      }
    } finally {
      button.disabled = false;
      button.textContent = label;
    }
  });
  return form;
}

// A refusal the page itself makes before asking the service (a file of a kind it will not take),
// shown exactly like one of the service's.
export class FieldProblem extends Error {
  constructor({ formField, code = 'invalid_argument', field = '', rule = '', status = 400 }) {
    super(rule);
    Object.assign(this, { formField, code, field, rule, status });
  }
}

// Wraps an ApiProblem so it is shown beside a given control of the form.
export function atField(problem, formField) {
  problem.formField = formField;
  return problem;
}
