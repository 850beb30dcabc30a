// The services `tether web` shows: what its operands name, listed afresh
// when asked (a scan directory gains and loses services), read from disk.
import { expandServices, isServiceDir, serviceRow, statusJson } from '../client/overview';

export type ServiceJson = ReturnType<typeof statusJson>;
import { LockTable } from '../client/supervised';
import { HttpError } from './http';

export interface ServiceRef {
  name: string;
  dir: string;
}

export class ServiceSet {
  private readonly warned = new Set<string>();

  constructor(private readonly operands: readonly string[], private readonly warn: (m: string) => void) {}

  /** Every service, by unique name: a name met twice keeps its first directory. */
  list(): ServiceRef[] {
    const seen = new Map<string, ServiceRef>();
    for (const ref of expandServices(this.operands)) {
      const first = seen.get(ref.name);
      if (first === undefined) seen.set(ref.name, ref);
      else if (!this.warned.has(ref.dir)) {
        this.warned.add(ref.dir);
        this.warn(`${ref.dir} is also named ${ref.name}; only ${first.dir} is shown`);
      }
    }
    return [...seen.values()];
  }

  /** The operands that are scan directories: services come and go there. */
  scanDirs(): string[] {
    return this.operands.filter((p) => !isServiceDir(p));
  }

  find(name: string): ServiceRef {
    const ref = this.list().find((r) => r.name === name);
    if (ref === undefined) throw new HttpError(404, `no such service: ${name}`);
    return ref;
  }

  /** The services as `tether status --json` gives them. */
  rows(refs: readonly ServiceRef[] = this.list()): ServiceJson[] {
    const locks = LockTable.read();
    return refs.map((r) => statusJson(serviceRow(r.name, r.dir, locks)));
  }

  row(ref: ServiceRef): ServiceJson {
    return statusJson(serviceRow(ref.name, ref.dir, LockTable.read()));
  }
}
