// The native calls, loaded on first use. Loading the FFI costs a short-lived
// client about a tenth of its start-up, and most runs of svstat or svc never
// need it, so the common paths avoid it.
type Native = typeof import('./native');
let native: Native | undefined;

export function loadNative(): Native {
  native ??= require('./native') as Native;
  return native;
}
