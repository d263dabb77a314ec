import '../workspaces/workspace-members.ts';
import { define } from '../shared/define.ts';
import './change-tier.ts';
import { VscActiveSessions } from './active-sessions.component.ts';

export { VscActiveSessions };

define('vsc-active-sessions', VscActiveSessions);

declare global {
  interface HTMLElementTagNameMap {
    'vsc-active-sessions': VscActiveSessions;
  }
}
