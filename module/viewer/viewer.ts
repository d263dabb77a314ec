import { define } from '../shared/define.ts';
import { VscViewer } from './viewer.component.ts';

export { VscViewer };
export type { ViewerStatus, DecoderWorkerFactory } from './viewer.component.ts';

define('vsc-viewer', VscViewer);

declare global {
  interface HTMLElementTagNameMap {
    'vsc-viewer': VscViewer;
  }
}
