import { define } from '../shared/define.ts';
import { VscSettings } from './settings.component.ts';

export { VscSettings };

define('vsc-settings', VscSettings);

declare global {
  interface HTMLElementTagNameMap {
    'vsc-settings': VscSettings;
  }
}
