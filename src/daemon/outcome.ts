// How a long-running wrapper ends, without ending the process itself: the
// first exit code or Failure decided wins, and the CLI acts on `ended`.
import { Failure } from '../base/exit';

export class Outcome {
  settled = false;
  private resolve!: (code: number) => void;
  private reject!: (err: Failure) => void;
  readonly ended = new Promise<number>((res, rej) => {
    this.resolve = res;
    this.reject = rej;
  });

  exit(code: number): void {
    if (this.settled) return;
    this.settled = true;
    this.resolve(code);
  }

  fail(message: string, exitCode: number): void {
    if (this.settled) return;
    this.settled = true;
    this.reject(new Failure(message, exitCode));
  }
}
