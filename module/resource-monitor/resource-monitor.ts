import { define } from '../shared/define.ts';
import { VscResourceMonitor } from './resource-monitor.component.ts';

export { VscResourceMonitor };

define('vsc-resource-monitor', VscResourceMonitor);

declare global {
  interface HTMLElementTagNameMap {
    'vsc-resource-monitor': VscResourceMonitor;
  }
}
