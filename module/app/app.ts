import { define } from '../shared/define.ts';
import { VscApp } from './app.component.ts';

export { VscApp };

define('vsc-app', VscApp);

declare global {
  interface HTMLElementTagNameMap {
    'vsc-app': VscApp;
  }
}
