import { define } from '../shared/define.ts';
import { VscWorkspaceMembers } from './workspace-members.component.ts';

export { VscWorkspaceMembers };

define('vsc-workspace-members', VscWorkspaceMembers);

declare global {
  interface HTMLElementTagNameMap {
    'vsc-workspace-members': VscWorkspaceMembers;
  }
}
