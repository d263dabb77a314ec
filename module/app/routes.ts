/** The module's routes, under its base path (`/v-supercore` in the N3XUS shell). */
export type Route = { view: 'launch' } | { view: 'sessions' } | { view: 'viewer'; sessionId: string };

export const DEFAULT_BASE_PATH = '/v-supercore';

function trimSlashes(path: string): string {
  return path.replace(/\/+$/, '');
}

/** `/v-supercore` → Quick Launch, `/v-supercore/sessions` → list, `/v-supercore/sessions/:id` → viewer. */
export function parseRoute(pathname: string, basePath = DEFAULT_BASE_PATH): Route {
  const base = trimSlashes(basePath);
  const path = trimSlashes(pathname);
  if (path !== base && !path.startsWith(`${base}/`)) return { view: 'launch' };
  const parts = path.slice(base.length).split('/').filter(Boolean);
  if (parts[0] !== 'sessions') return { view: 'launch' };
  const id = parts[1];
  if (id === undefined || parts.length > 2) return { view: 'sessions' };
  try {
    return { view: 'viewer', sessionId: decodeURIComponent(id) };
  } catch {
    return { view: 'sessions' };
  }
}

export function routePath(route: Route, basePath = DEFAULT_BASE_PATH): string {
  const base = trimSlashes(basePath);
  switch (route.view) {
    case 'launch':
      return base || '/';
    case 'sessions':
      return `${base}/sessions`;
    case 'viewer':
      return `${base}/sessions/${encodeURIComponent(route.sessionId)}`;
  }
}
