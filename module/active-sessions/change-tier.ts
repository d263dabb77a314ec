import { define } from '../shared/define.ts';
import { VscChangeTier } from './change-tier.component.ts';

export { VscChangeTier };

define('vsc-change-tier', VscChangeTier);

declare global {
  interface HTMLElementTagNameMap {
    'vsc-change-tier': VscChangeTier;
  }
}
