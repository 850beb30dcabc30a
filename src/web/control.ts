// The API's mutations: each is the control byte `tether svc` sends for the
// same word, through the same code, and its answer carries the exit code
// `tether svc` would give.
import { EXIT_NOT_SUPERVISED, EXIT_SYSTEM, EXIT_TIMEOUT, Failure } from '../base/exit';
import { controlServices } from '../client/svc';
import type { WaitCondition } from '../client/conditions';
import { SIGNAL_COMMANDS } from '../wire/control';
import { parseSignal } from '../wire/signals';
import { constants } from 'node:os';
import { HttpError } from './http';

/** The API's actions and their bytes, as `tether svc -u -d -o -r` send them. */
export const ACTION_BYTES: Readonly<Record<string, string>> = { up: 'u', down: 'd', once: 'o', restart: 'r' };
export const ACTIONS = [...Object.keys(ACTION_BYTES), 'signal'];

/** The waits the API offers, as `tether svc -wu -wU -wd -wD -wr -wR`. */
const WAITS: Readonly<Record<string, WaitCondition>> = {
  up: 'up', ready: 'ready', down: 'down', finished: 'finished', restarted: 'restarted', 'restarted-ready': 'restarted-ready',
};
export const DEFAULT_WAIT_MS = 30_000;
export const MAX_WAIT_MS = 600_000;

export interface ControlRequest {
  bytes: string;
  wait?: WaitCondition;
  timeoutMs: number;
}

/** Reads one parameter from the query string, else from the JSON body. */
function param(query: URLSearchParams, body: Record<string, unknown>, name: string): string | undefined {
  const q = query.get(name);
  if (q !== null) return q;
  const b = body[name];
  if (b === undefined || b === null) return undefined;
  if (typeof b === 'string' || typeof b === 'number') return String(b);
  throw new HttpError(400, `${name} must be a string or a number`);
}

export function parseControl(action: string, query: URLSearchParams, body: Record<string, unknown>): ControlRequest {
  let bytes = ACTION_BYTES[action];
  if (action === 'signal') bytes = signalByte(param(query, body, 'signal'));
  if (bytes === undefined) throw new HttpError(404, `no such action: ${action} (one of ${ACTIONS.join(', ')})`);
  const waitName = param(query, body, 'wait');
  const wait = waitName === undefined ? undefined : WAITS[waitName];
  if (waitName !== undefined && wait === undefined) throw new HttpError(400, `wait must be one of ${Object.keys(WAITS).join(', ')}`);
  const timeoutText = param(query, body, 'timeout');
  let timeoutMs = DEFAULT_WAIT_MS;
  if (timeoutText !== undefined) {
    if (!/^[0-9]+$/.test(timeoutText) || Number(timeoutText) < 1 || Number(timeoutText) > MAX_WAIT_MS) {
      throw new HttpError(400, `timeout must be a whole number of ms from 1 to ${MAX_WAIT_MS}`);
    }
    timeoutMs = Number(timeoutText);
  }
  return { bytes, wait, timeoutMs };
}

/** The letter of a signal s6-svc lets users send (`-s`); names as in `tether svc -s`. */
function signalByte(name: string | undefined): string {
  if (name === undefined) throw new HttpError(400, 'signal needs a signal parameter, such as HUP or SIGUSR1');
  const num = parseSignal(name);
  const letter = num === null ? undefined : Object.keys(SIGNAL_COMMANDS).find((l) => constants.signals[SIGNAL_COMMANDS[l]] === num);
  if (letter === undefined) {
    const names = Object.values(SIGNAL_COMMANDS).map((s) => s.slice(3)).join(' ');
    throw new HttpError(400, `${name} is not a signal tether svc can send (one of ${names})`);
  }
  return letter;
}

export interface ControlAnswer {
  httpStatus: number;
  exitCode: number;
  message: string | null;
  warnings: string[];
}

/** HTTP statuses for s6's exit codes: a timeout is a 504, a missing supervisor a 409. */
function httpStatusOf(exitCode: number): number {
  if (exitCode === 0) return 200;
  if (exitCode === EXIT_TIMEOUT) return 504;
  if (exitCode === EXIT_NOT_SUPERVISED) return 409;
  if (exitCode === EXIT_SYSTEM || exitCode === 1) return 500;
  return 409; // n services failed permanently or lost their supervisor during the wait
}

export async function runControl(dir: string, req: ControlRequest): Promise<ControlAnswer> {
  const warnings: string[] = [];
  let exitCode: number;
  let message: string | null = null;
  try {
    const outcome = await controlServices([dir], req.bytes, { wait: req.wait, timeoutMs: req.timeoutMs, warn: (m) => warnings.push(m) });
    exitCode = outcome.exitCode;
    message = outcome.failures[0]?.message ?? (outcome.waitFailures > 0 ? 'the service failed permanently or lost its supervisor during the wait' : null);
  } catch (err) {
    if (!(err instanceof Failure)) throw err;
    exitCode = err.exitCode;
    message = err.message;
  }
  return { httpStatus: httpStatusOf(exitCode), exitCode, message, warnings };
}
