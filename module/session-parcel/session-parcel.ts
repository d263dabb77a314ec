import '../viewer/viewer.ts';
import '../workspaces/workspace-members.ts';
import { define } from '../shared/define.ts';
import { VscSessionParcel } from './session-parcel.component.ts';

export { VscSessionParcel };

define('vsc-session-parcel', VscSessionParcel);

declare global {
  interface HTMLElementTagNameMap {
    'vsc-session-parcel': VscSessionParcel;
  }
}
