/** Makes the page believe it is offline (navigator.onLine false + an `offline` event) until `goOnline()`. */
export function goOffline(): void {
  Object.defineProperty(navigator, 'onLine', { configurable: true, get: () => false });
  window.dispatchEvent(new Event('offline'));
}

/** Undoes `goOffline()` and fires `online`. */
export function goOnline(): void {
  delete (navigator as unknown as Record<string, unknown>)['onLine'];
  window.dispatchEvent(new Event('online'));
}

/** A fresh IndexedDB database name per test, deleted by `dropDatabase`. */
let n = 0;
export function uniqueDbName(): string {
  return `v-supercore-test-${Date.now()}-${n++}`;
}

export function dropDatabase(name: string): Promise<void> {
  return new Promise((resolve) => {
    const request = indexedDB.deleteDatabase(name);
    request.onsuccess = request.onerror = request.onblocked = () => resolve();
  });
}
