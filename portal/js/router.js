// A small hash router: "#/case/C-4D7Q2M9XKA" runs the page registered for "/case/:id".
// Hashes that do not start with "#/" are in-page links (the error summary's) and are left alone.

const routes = [];

// `pattern` like "/case/:id"; `page(params, query)` returns a page: { title, render(main) }.
export function route(pattern, page) {
  const names = [];
  const source = pattern.replace(/:([a-z]+)/g, (_, name) => {
    names.push(name);
    return '([^/]+)';
  });
  routes.push({ regex: new RegExp(`^${source}$`), names, page });
}

export function currentPath() {
  const hash = location.hash.startsWith('#/') ? location.hash.slice(1) : '/';
  const [path, search = ''] = hash.split('?');
  return { path, query: new URLSearchParams(search) };
}

export function navigate(path) {
  if (location.hash === `#${path}`) window.dispatchEvent(new HashChangeEvent('hashchange'));
  else location.hash = `#${path}`;
}

export function resolve(path) {
  for (const r of routes) {
    const m = r.regex.exec(path);
    if (m) {
      const params = Object.fromEntries(r.names.map((n, i) => [n, decodeURIComponent(m[i + 1])]));
      return { page: r.page, params };
    }
  }
  return null;
}

export function start(onRoute) {
  const go = () => {
    if (location.hash && !location.hash.startsWith('#/')) return;
    onRoute(currentPath());
  };
  window.addEventListener('hashchange', go);
  go();
}
