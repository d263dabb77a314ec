import { define } from '../shared/define.ts';
import { VscQuickLaunch } from './quick-launch.component.ts';

export { VscQuickLaunch };

define('vsc-quick-launch', VscQuickLaunch);

declare global {
  interface HTMLElementTagNameMap {
    'vsc-quick-launch': VscQuickLaunch;
  }
}
