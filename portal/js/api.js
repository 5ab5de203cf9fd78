// The service's public JSON API, as the portal uses it. Every call carries the signed-in
// credential; a refusal comes back as an ApiProblem holding the RFC 9457 problem's
// code, field and rule, for the page to show beside the control concerned.
import { forget, token } from './session.js';

export class ApiProblem extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.code = problem.code ?? '';
    this.field = problem.field ?? '';
    this.rule = problem.rule ?? '';
    this.retryable = Boolean(problem.retryable);
  }
}

function headers(extra = {}) {
  const h = { Accept: 'application/json', ...extra };
  const t = token();
  if (t) h.Authorization = `Bearer ${t}`;
  return h;
}

async function problemFrom(response) {
  let body = {};
  try {
    body = JSON.parse(await response.text());
  } catch {
    body = { detail: response.statusText, code: response.status >= 500 ? 'unavailable' : '' };
  }
  return new ApiProblem(response.status, body);
}

async function send(url, init) {
  let response;
  try {
    response = await fetch(url, init);
  } catch {
    throw new ApiProblem(0, { code: 'unavailable', detail: 'the service cannot be reached', retryable: true });
  }
  // A signed-in token the service no longer takes (revoked): the person is signed out.
  if (response.status === 401 && token() && init.headers?.Authorization === `Bearer ${token()}`) forget();
  if (!response.ok) throw await problemFrom(response);
  return response;
}

// A command's answer: one JSON value, or JSON lines (`events`), as an array of values.
function parseBody(text) {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  if (lines.length === 1) return JSON.parse(lines[0]);
  return lines.map((l) => JSON.parse(l));
}

function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params ?? {})) {
    if (v === undefined || v === null || v === false || v === '') continue;
    q.set(k, v === true ? 'true' : String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

// GET /v1/COMMAND?options: the command's JSON.
export async function read(command, params) {
  const response = await send(`/v1/${command}${query(params)}`, { headers: headers() });
  return parseBody(await response.text());
}

// Reads whose answer is JSON lines; always an array, even of one line.
export async function readLines(command, params) {
  const response = await send(`/v1/${command}${query(params)}`, { headers: headers() });
  return (await response.text()).split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l));
}

// An id for one command: the service applies a command with the same Idempotency-Key once.
// (getRandomValues, unlike randomUUID, works on a page served over plain HTTP too.)
function commandId() {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
}

// POST /v1/COMMAND with the options as a JSON object. Empty options are left out, so an
// optional field left blank means "not given", as on the command line. A command whose answer
// was lost (no connection, or 503) is sent once more with the same id, so it is written once.
export async function write(command, options) {
  const body = {};
  for (const [k, v] of Object.entries(options ?? {})) {
    if (v === undefined || v === null || v === '' || (Array.isArray(v) && v.length === 0)) continue;
    body[k] = v;
  }
  const init = {
    method: 'POST',
    headers: headers({ 'Content-Type': 'application/json', 'Idempotency-Key': commandId() }),
    body: JSON.stringify(body),
  };
  let response;
  try {
    response = await send(`/v1/${command}`, init);
  } catch (err) {
    if (!(err instanceof ApiProblem) || !err.retryable) throw err;
    await new Promise((resolve) => setTimeout(resolve, 1000));
    response = await send(`/v1/${command}`, init);
  }
  return parseBody(await response.text());
}

// The signed-in credential's role and id; an ApiProblem (401) for a token that is not live.
export async function whoami(withToken) {
  const response = await send('/v1/whoami', {
    headers: { Accept: 'application/json', Authorization: `Bearer ${withToken}` },
  });
  return response.json();
}

export const UPLOAD_TYPES = ['application/pdf', 'image/jpeg', 'image/png', 'image/webp', 'text/plain'];

// Uploads a file once; the answer's `reference` (sha256:HEX/NAME) names it in `file` and `attach`.
export async function upload(file) {
  const response = await send(`/v1/documents${query({ name: safeFileName(file.name) })}`, {
    method: 'POST',
    headers: headers({ 'Content-Type': file.type || 'application/octet-stream' }),
    body: file,
  });
  return response.json();
}

// The service takes a name of 1-200 bytes without '/' or control characters.
function safeFileName(name) {
  // eslint-disable-next-line no-control-regex
  let n = (name || 'document').replace(/[/\\\u0000-\u001f\u007f]/g, '_');
  while (new TextEncoder().encode(n).length > 200) n = n.slice(0, -1);
  return n || 'document';
}

// A document of a case, as a Blob (it needs the credential, so no plain link can fetch it).
export async function fetchDocument(sha256Hex, caseId) {
  const response = await send(`/v1/documents/${sha256Hex}${query({ case: caseId })}`, { headers: headers() });
  return response.blob();
}
