// POSIX extended regular expressions from libc, as s6-log compiles its `+re`
// and `-re` directives (REG_EXTENDED | REG_NOSUB | REG_NEWLINE). JavaScript's
// RegExp differs from POSIX ERE in syntax ([[:alpha:]], backslashes, braces),
// so the same script must reach the same engine to select the same lines.
import koffi from 'koffi';

const libc = koffi.load('libc.so.6');
const api = {
  regcomp: libc.func('int regcomp(void *preg, const char *regex, int cflags)'),
  regexec: libc.func('int regexec(const void *preg, const uint8_t *string, size_t nmatch, void *pmatch, int eflags)'),
};

const REG_EXTENDED = 1;
const REG_NEWLINE = 4;
const REG_NOSUB = 8;
/** glibc's regex_t is 64 bytes on 64-bit targets; the rest is slack. */
const REGEX_T_SIZE = 256;

export class PosixRegex {
  // Kept referenced for the process's life: libc holds pointers into it.
  private readonly preg = Buffer.alloc(REGEX_T_SIZE);
  private scratch = Buffer.alloc(4096);

  /** Throws if `source` is not a valid extended regular expression. */
  constructor(readonly source: string) {
    if (api.regcomp(this.preg, source, REG_EXTENDED | REG_NOSUB | REG_NEWLINE) !== 0) {
      throw new SyntaxError(`invalid regular expression: ${source}`);
    }
  }

  /** Whether `line[start, end)` matches; like C, the match stops at a NUL byte. */
  test(line: Buffer, start: number, end: number): boolean {
    const len = end - start;
    if (this.scratch.length <= len) this.scratch = Buffer.alloc(Math.max(len + 1, this.scratch.length * 2));
    line.copy(this.scratch, 0, start, end);
    this.scratch[len] = 0;
    return api.regexec(this.preg, this.scratch, 0, null, 0) === 0;
  }
}
