import type { SessionState } from '../../protocol/session.ts';
import type { PaneView } from '../app/routes.ts';

/** `vsc-open-session`: show this session in the viewer. `launching` when it comes straight from Quick Launch. */
export interface OpenSessionDetail {
  sessionId: string;
  launching?: boolean;
}

/** `vsc-close-viewer`: leave the viewer for the sessions list. */
export interface CloseViewerDetail {
  sessionId: string;
}

/** `vsc-navigate`: go to one of the module's views. */
export interface NavigateDetail {
  view: PaneView;
}

/** Name of the event the module dispatches on the host's `eventBus` when a session's state changes. */
export const SESSION_CHANGED_EVENT = 'v-supercore:session-changed';

/** Detail of `v-supercore:session-changed` on the host's event bus. */
export interface SessionChangedDetail {
  module: 'v-supercore';
  sessionId: string;
  state: SessionState;
  /** null the first time the module sees the session (e.g. just created). */
  previousState: SessionState | null;
}

declare global {
  interface HTMLElementEventMap {
    'vsc-open-session': CustomEvent<OpenSessionDetail>;
    'vsc-close-viewer': CustomEvent<CloseViewerDetail>;
    'vsc-navigate': CustomEvent<NavigateDetail>;
  }
}
