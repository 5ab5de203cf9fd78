// Who is signed in. The token lives in sessionStorage only: it goes when the tab closes, and
// the page never writes it anywhere else. The role comes from the service (/v1/whoami), never
// from what the page itself assumes.
const KEY = 'sazesh.session';

// Fired on window when someone signs in or out, so the frame can show who it is.
export const SESSION_CHANGED = 'sazesh-session-changed';

let cached = null;

export function current() {
  if (cached) return cached;
  try {
    cached = JSON.parse(sessionStorage.getItem(KEY) ?? 'null');
  } catch {
    cached = null;
  }
  return cached;
}

export function token() {
  return current()?.token ?? '';
}

// `identity` is what /v1/whoami answered for `secret`.
export function remember(secret, identity) {
  cached = { token: secret, role: identity.role, id: identity.id, keyId: identity.key_id };
  sessionStorage.setItem(KEY, JSON.stringify(cached));
  window.dispatchEvent(new Event(SESSION_CHANGED));
  return cached;
}

export function forget() {
  cached = null;
  sessionStorage.removeItem(KEY);
  window.dispatchEvent(new Event(SESSION_CHANGED));
}
