/** The module's routes, under its base path (`/v-supercore` in the N3XUS shell). */
export type Route =
  | { view: 'launch' }
  | { view: 'sessions' }
  | { view: 'viewer'; sessionId: string }
  | { view: 'resources' }
  | { view: 'settings' };

/** The views that are panes of their own (a tab each); the viewer lives under Active Sessions. */
export type PaneView = Exclude<Route['view'], 'viewer'>;

export const DEFAULT_BASE_PATH = '/v-supercore';

function trimSlashes(path: string): string {
  return path.replace(/\/+$/, '');
}

/**
 * `/v-supercore` → Quick Launch, `/v-supercore/sessions` → Active Sessions, `/v-supercore/sessions/:id` →
 * viewer, `/v-supercore/resources` → Resource Monitor, `/v-supercore/settings` → Settings. Anything else under
 * the base path (or outside it) shows Quick Launch.
 */
export function parseRoute(pathname: string, basePath = DEFAULT_BASE_PATH): Route {
  const base = trimSlashes(basePath);
  const path = trimSlashes(pathname);
  if (path !== base && !path.startsWith(`${base}/`)) return { view: 'launch' };
  const parts = path.slice(base.length).split('/').filter(Boolean);
  switch (parts[0]) {
    case 'resources':
      return { view: 'resources' };
    case 'settings':
      return { view: 'settings' };
    case 'sessions': {
      const id = parts[1];
      if (id === undefined || parts.length > 2) return { view: 'sessions' };
      try {
        return { view: 'viewer', sessionId: decodeURIComponent(id) };
      } catch {
        return { view: 'sessions' };
      }
    }
    default:
      return { view: 'launch' };
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
    case 'resources':
      return `${base}/resources`;
    case 'settings':
      return `${base}/settings`;
  }
}
