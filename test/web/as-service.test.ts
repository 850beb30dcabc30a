// tether web as a service of the very tree it shows, under tether svscan:
// it lists itself, controls its neighbours, and `svc -d` stops it cleanly.
import t from 'tap';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { TETHER, makeService, tempDir, tether, waitForFile } from '../lib/harness';
import { startScanner, statusPid, waitUp } from '../scan/lib';
import { call, post, type WebHandle } from './lib';

t.test('tether web run by the scanner it reports on', async (t) => {
  const scan = tempDir(t);
  makeService(join(scan, 'app'), 'exec sleep 1000');
  // Its run starts in SCANDIR/web, so the scan directory is `..`.
  makeService(join(scan, 'web'), `exec ${process.execPath} ${TETHER} web ..`);
  const scanner = await startScanner(t, scan);
  for (const name of ['app', 'web']) await waitUp(join(scan, name));
  const socket = join(scan, '.tether', 'web.sock');
  await waitForFile(socket);
  const web = { socket, port: 0, token: null, address: '127.0.0.1' } as unknown as WebHandle;

  const rows = (await call(web, '/v1/services')).json;
  t.same(rows.map((r: any) => r.name), ['app', 'web']);
  t.equal(rows[1].pid, statusPid(join(scan, 'web')), 'it shows itself, with its own pid');
  const before = statusPid(join(scan, 'app'));
  const r = await post(web, '/v1/services/app/restart?wait=restarted&timeout=20000');
  t.equal(r.status, 200, r.text);
  t.not(statusPid(join(scan, 'app')), before, 'it restarted its neighbour');

  const down = await tether(['svc', '-wD', '-T', '20000', '-d', join(scan, 'web')]);
  t.equal(down.code, 0);
  t.notOk(existsSync(socket), 'svc -d (SIGTERM) made it remove its socket');
  t.match((await tether(['svstat', join(scan, 'web')])).stdout, /^down \(exitcode 0\)/, 'and exit 0');
  void scanner;
});
