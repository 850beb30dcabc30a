// The options svwait and svlisten share: -u -U -d -D -r -R, -a -o, -t ms.
import { CONDITION_BY_LETTER, type WaitCondition } from '../../client/conditions';
import { parseUint } from '../../base/getopt';

export const WAIT_HELP = `-u up (default), -U up and ready, -d down, -D down and finish done,
-r restarted (down and finished, then up), -R restarted and ready.
-a all directories (default), -o any one of them. -t ms: give up (exit 99).
Exit: 0; n supervisors that exited or services that failed permanently;
99 timeout; 100 usage; 111 system error.`;

export interface WaitArgs {
  condition: WaitCondition;
  any: boolean;
  timeoutMs?: number;
}

export function parseWaitArgs(options: ReadonlyArray<{ opt: string; arg?: string }>): WaitArgs {
  const out: WaitArgs = { condition: 'up', any: false };
  for (const { opt, arg = '' } of options) {
    if (opt === 'a') out.any = false;
    else if (opt === 'o') out.any = true;
    else if (opt === 't') {
      const ms = parseUint(arg, 'timeout');
      out.timeoutMs = ms === 0 ? undefined : ms;
    } else if (CONDITION_BY_LETTER[opt]) out.condition = CONDITION_BY_LETTER[opt];
  }
  return out;
}
