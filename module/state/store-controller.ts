import type { ReactiveController, ReactiveControllerHost } from 'lit';
import type { Observable, Subscription } from 'rxjs';

/**
 * Binds an Observable to a Lit element: subscribes when the host connects, unsubscribes when it disconnects,
 * and re-renders the host on every value. The source is read through a getter, so a host whose store
 * property is replaced (props `update()`) resubscribes to the new one on its next update.
 */
export class StoreController<T> implements ReactiveController {
  /** The latest value; undefined until the source emits. */
  value: T | undefined;

  private source: Observable<T> | undefined;
  private subscription: Subscription | undefined;
  private connected = false;

  constructor(
    private readonly host: ReactiveControllerHost,
    private readonly getSource: () => Observable<T> | undefined,
    private readonly onValue?: (value: T, previous: T | undefined) => void,
  ) {
    host.addController(this);
  }

  /** True while subscribed. */
  get subscribed(): boolean {
    return this.subscription !== undefined && !this.subscription.closed;
  }

  hostConnected(): void {
    this.connected = true;
    this.sync();
  }

  hostUpdate(): void {
    // An update can still run after disconnect (it was already scheduled): never resubscribe then.
    if (this.connected) this.sync();
  }

  hostDisconnected(): void {
    this.connected = false;
    this.subscription?.unsubscribe();
    this.subscription = undefined;
    this.source = undefined;
  }

  private sync(): void {
    const source = this.getSource();
    if (source === this.source) return;
    this.subscription?.unsubscribe();
    this.subscription = undefined;
    this.source = source;
    this.value = undefined;
    if (!source) return;
    this.subscription = source.subscribe((value) => {
      const previous = this.value;
      this.value = value;
      this.onValue?.(value, previous);
      this.host.requestUpdate();
    });
  }
}
