import type { Route } from './routes.ts';

/**
 * Each view's custom elements, as its own chunk: mounting the module downloads the app shell and the pane on
 * screen, nothing else. Loaded once; a failed load is forgotten so that the next attempt retries.
 */
const LOADERS: Record<Route['view'], () => Promise<unknown>> = {
  launch: () => import(/* webpackChunkName: "pane-quick-launch" */ '../quick-launch/quick-launch.ts'),
  sessions: () =>
    import(/* webpackChunkName: "pane-active-sessions" */ '../active-sessions/active-sessions.ts'),
  viewer: () => import(/* webpackChunkName: "pane-viewer" */ '../viewer/viewer.ts'),
  resources: () =>
    import(/* webpackChunkName: "pane-resource-monitor" */ '../resource-monitor/resource-monitor.ts'),
  settings: () => import(/* webpackChunkName: "pane-settings" */ '../settings/settings.ts'),
};

const loading = new Map<Route['view'], Promise<unknown>>();

/** Defines the elements of a view; resolves once they are defined. */
export function loadPane(view: Route['view']): Promise<unknown> {
  let promise = loading.get(view);
  if (!promise) {
    promise = LOADERS[view]().catch((error: unknown) => {
      loading.delete(view);
      throw error;
    });
    loading.set(view, promise);
  }
  return promise;
}
