// Signal names and numbers, and the raw wait status s6 stores.
import { constants } from 'node:os';

const byName = constants.signals as Readonly<Record<string, number>>;
const byNumber = new Map<number, string>();
for (const [name, num] of Object.entries(byName)) if (!byNumber.has(num)) byNumber.set(num, name);
// Linux aliases node lists first for some numbers; s6 prints these names.
byNumber.set(6, 'SIGABRT');
byNumber.set(29, 'SIGIO');
byNumber.set(31, 'SIGSYS');

/** `SIGTERM` for 15; `SIG<n>` for a number with no name. */
export function signalName(num: number): string {
  return byNumber.get(num) ?? `SIG${num}`;
}

/**
 * Parses a signal as s6's sig0_scan does: a name with or without `SIG`, in any
 * case, or a decimal number. Returns null for anything else.
 */
export function parseSignal(text: string): number | null {
  if (/^[0-9]+$/.test(text)) {
    const n = Number(text);
    return n >= 0 && n < 65 ? n : null;
  }
  const up = text.toUpperCase();
  const name = up.startsWith('SIG') ? up : `SIG${up}`;
  return Object.prototype.hasOwnProperty.call(byName, name) ? byName[name] : null;
}

/** The Linux wait status: exit n is n<<8, death by signal s is s (|0x80 with a core). */
export function wstatFromExit(code: number | null, signal: NodeJS.Signals | number | null): number {
  if (signal !== null) return typeof signal === 'number' ? signal : byName[signal] ?? 0;
  return ((code ?? 0) & 0xff) << 8;
}

export function wstatSignaled(wstat: number): boolean {
  const sig = wstat & 0x7f;
  return sig !== 0 && sig !== 0x7f;
}

export function wstatTermsig(wstat: number): number {
  return wstat & 0x7f;
}

export function wstatExitCode(wstat: number): number {
  return (wstat >> 8) & 0xff;
}

/** The shell's convention, also s6's: the exit code, or 128 + the signal. */
export function wstatToCode(wstat: number): number {
  return wstatSignaled(wstat) ? 128 + wstatTermsig(wstat) : wstatExitCode(wstat);
}
