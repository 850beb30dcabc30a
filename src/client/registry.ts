// Open event subscriptions of this process, so that a signal that ends a
// waiting command can still unlink its listener FIFOs. Kept apart from
// listen.ts so that commands can install the handlers without loading it.
export interface Closable {
  close(): void;
}

export const openWatches = new Set<Closable>();

export function closeAllWatches(): void {
  for (const w of [...openWatches]) w.close();
}
