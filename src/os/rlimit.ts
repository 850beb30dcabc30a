// RLIMIT_NOFILE, read and set. Node raises its own soft open-files limit to
// the hard one before any JavaScript runs, so the limit a service should get
// (the one tether was started with) has to be put back by hand; Node has no
// call for either half. Its own koffi load of libc, beside native.ts.
import koffi from 'koffi';
import { NativeError } from './native';

const libc = koffi.load('libc.so.6');

// struct rlimit: two rlim_t (unsigned long on Linux x86_64 and aarch64).
koffi.struct('tether_rlimit', { rlim_cur: 'uint64', rlim_max: 'uint64' });

const c = {
  getrlimit: libc.func('int getrlimit(int resource, _Out_ tether_rlimit *rlim)'),
  setrlimit: libc.func('int setrlimit(int resource, const tether_rlimit *rlim)'),
};

const RLIMIT_NOFILE = 7;
const RLIM_INFINITY = 0xffff_ffff_ffff_ffffn;

/** A limit; Infinity for RLIM_INFINITY ("unlimited"). */
export interface Limits {
  soft: number;
  hard: number;
}

function fromNative(v: number | bigint): number {
  return BigInt(v) === RLIM_INFINITY ? Infinity : Number(v);
}

function toNative(v: number): bigint {
  return v === Infinity ? RLIM_INFINITY : BigInt(v);
}

/** This process's soft and hard RLIMIT_NOFILE. */
export function openFilesLimits(): Limits {
  const out: { rlim_cur: number | bigint; rlim_max: number | bigint } = { rlim_cur: 0, rlim_max: 0 };
  if (c.getrlimit(RLIMIT_NOFILE, out) !== 0) throw new NativeError('getrlimit', koffi.errno());
  return { soft: fromNative(out.rlim_cur), hard: fromNative(out.rlim_max) };
}

/** Sets this process's soft RLIMIT_NOFILE, keeping the hard one. Throws (EINVAL) above the hard limit. */
export function setSoftOpenFilesLimit(soft: number): void {
  const { hard } = openFilesLimits();
  if (c.setrlimit(RLIMIT_NOFILE, { rlim_cur: toNative(soft), rlim_max: toNative(hard) }) !== 0) {
    throw new NativeError('setrlimit', koffi.errno());
  }
}
