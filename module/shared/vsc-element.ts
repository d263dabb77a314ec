import { LitElement } from 'lit';
import { property } from 'lit/decorators.js';
import { VSC_VERSION } from './define.ts';

export type Theme = 'light' | 'dark';

/** Base of every v-SuperCore element: the version stamp `define()` checks and the reflected `theme` attribute. */
export class VscElement extends LitElement {
  static readonly vscVersion = VSC_VERSION;

  /** Colour scheme of the component: `light` (default) or `dark`. */
  @property({ reflect: true }) theme: Theme = 'light';

  /** BCP 47 locale for dates and numbers; the browser's when empty. */
  @property() locale = '';

  /** Dispatches a bubbling, composed CustomEvent from this element. */
  protected emit<T>(type: string, detail: T): boolean {
    return this.dispatchEvent(
      new CustomEvent<T>(type, { detail, bubbles: true, composed: true, cancelable: true }),
    );
  }
}
