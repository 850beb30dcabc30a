// The page in a real headless Chromium (Debian's, driven by puppeteer-core;
// nothing is downloaded): rows for every service, a restart clicked and seen
// live, a kill from outside seen live, a service's STATUS= line, the
// keyboard, a narrow window, and screenshots kept as artefacts in
// build/artifacts/.
import t from 'tap';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { BOUND_MS, HAVE_S6, ROOT, makeService, tempDir, type Teardown } from '../lib/harness';
import { startScanner, statusPid, waitUp } from '../scan/lib';
import { call, auth, startWeb } from './lib';
import { HAVE_PYTHON, PYTHON } from '../notify/lib';

const CHROMIUM = '/usr/bin/chromium';
/** A log line that would run, and restyle the page, if it were taken as HTML. */
const HOSTILE = '<script>document.title="owned"</script> <b>bold</b> <img src=x onerror="document.title=1">';
export const ARTIFACTS = join(ROOT, 'build', 'artifacts');

async function launch(t: Teardown): Promise<Browser> {
  // --no-sandbox: the tests run as root, where Chromium's sandbox refuses to start.
  const browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu'] });
  t.teardown(async () => {
    const proc = browser.process();
    await browser.close().catch(() => undefined);
    if (proc?.pid && proc.exitCode === null) proc.kill('SIGKILL');
  });
  return browser;
}

/** The text of one cell of a service's row. */
function cell(page: Page, name: string, key: string): Promise<string> {
  return page.$eval(`tr[data-service="${name}"] td[data-key="${key}"]`, (td) => td.textContent ?? '');
}

/** Waits until a cell shows `pred`-accepted text; the page does it, driven by SSE. */
async function cellBecomes(page: Page, name: string, key: string, wanted: string): Promise<void> {
  await page.waitForFunction(
    (n, k, w) => document.querySelector(`tr[data-service="${n}"] td[data-key="${k}"]`)?.textContent === w,
    { timeout: BOUND_MS, polling: 'mutation' }, name, key, wanted,
  );
}

/**
 * A service of the notify-socket kind: run sends the line in its file
 * status-text as STATUS=, with READY=1, from the main process, then sleeps.
 */
const STATUS_SENDER = `exec ${PYTHON} -c 'import os, socket, time
a = os.environ["NOTIFY_SOCKET"]
a = "\\0" + a[1:] if a.startswith("@") else a
line = open("status-text", "rb").read()
socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(b"STATUS=" + line + b"\\nREADY=1", a)
time.sleep(1000)'`;

const missing = !existsSync(CHROMIUM) ? 'no /usr/bin/chromium (apt-get install chromium)'
  : !HAVE_S6 ? "no Debian s6 (its s6-log logs the test's service)"
  : !HAVE_PYTHON ? `no ${PYTHON} (the STATUS= sender)` : false;

t.test('the page in Chromium', { skip: missing }, async (t) => {
  const scan = tempDir(t);
  makeService(join(scan, 'api'), `echo 'api: listening on :8080'\necho '${HOSTILE}'\necho >&3\nexec sleep 1000`, {
    'notification-fd': '3\n', 'log/run': 'exec s6-log t ./main',
  });
  makeService(join(scan, 'worker'), 'exec sleep 1000');
  makeService(join(scan, 'mailer'), 'exec sleep 1000');
  makeService(join(scan, 'backup'), 'exec sleep 1000', { down: '' });
  makeService(join(scan, 'notifier'), STATUS_SENDER, { 'notify-socket': '', 'status-text': HOSTILE });
  const scanner = await startScanner(t, scan);
  for (const name of ['api', 'api/log', 'worker', 'mailer', 'notifier']) await waitUp(join(scan, name));
  const web = await startWeb(t, ['--listen', '127.0.0.1:0', scan]);
  const browser = await launch(t);
  const page = await browser.newPage();
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(`page error: ${String(err)}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`console: ${msg.text()}`);
  });
  await page.setViewport({ width: 1100, height: 520 });
  await page.goto(`http://127.0.0.1:${web.port}/#token=${web.token}`);

  t.test('it logs in with the link, forgets the token, and shows every service', async (t) => {
    await page.waitForSelector('#conn[data-state="live"]', { timeout: BOUND_MS });
    const names = (await call(web, '/v1/services', { headers: auth(web) })).json.map((r: any) => r.name);
    t.same(names, ['api', 'api/log', 'backup', 'mailer', 'notifier', 'worker']);
    await page.waitForFunction((n) => document.querySelectorAll('tbody tr').length === n, { timeout: BOUND_MS }, names.length);
    t.same(await page.$$eval('tbody tr', (trs) => trs.map((tr) => (tr as HTMLElement).dataset.service)), names, 'one row per service');
    t.equal(await cell(page, 'api', 'state'), 'ready', 'api reports readiness: ready');
    t.equal(await cell(page, 'api', 'ready'), 'yes');
    t.equal(await cell(page, 'api', 'pid'), String(statusPid(join(scan, 'api'))));
    t.equal(await cell(page, 'backup', 'state'), 'down');
    t.equal(page.url(), `http://127.0.0.1:${web.port}/`, 'the token left the address bar');
    const cookies = await browser.cookies();
    t.ok(cookies.some((c) => c.name === `tether_session_${web.port}` && c.httpOnly && c.sameSite === 'Strict'), 'an HttpOnly SameSite=Strict session cookie');
    t.equal(await page.evaluate(() => document.cookie), '', 'which the page script cannot read');
  });

  t.test('click restart, confirm, and see the pid change live', async (t) => {
    const before = statusPid(join(scan, 'worker'));
    await page.click('tr[data-service="worker"] button[data-action="restart"]');
    await page.waitForSelector('dialog#confirm[open]', { timeout: BOUND_MS });
    t.match(await page.$eval('#confirm-text', (p) => p.textContent), /Restart worker\?/, 'a destructive action asks first');
    await page.click('#confirm-ok');
    await page.waitForFunction(
      (b) => { const txt = document.querySelector('tr[data-service="worker"] td[data-key="pid"]')?.textContent; return txt !== String(b) && /^[0-9]+$/.test(txt ?? ''); },
      { timeout: BOUND_MS, polling: 'mutation' }, before,
    );
    const after = statusPid(join(scan, 'worker'));
    t.not(after, before, 'the service was restarted');
    await cellBecomes(page, 'worker', 'pid', String(after));
    t.equal(await cell(page, 'worker', 'last'), 'SIGTERM', 'last exit: the down signal');
    t.equal(await cell(page, 'worker', 'deaths'), '1');
  });

  t.test('cancel does nothing', async (t) => {
    const before = statusPid(join(scan, 'mailer'));
    await page.click('tr[data-service="mailer"] button[data-action="down"]');
    await page.waitForSelector('dialog#confirm[open]', { timeout: BOUND_MS });
    await page.keyboard.press('Escape');
    await page.waitForSelector('dialog#confirm:not([open])', { timeout: BOUND_MS });
    // A request after the click would have followed it; the service is untouched.
    t.equal((await call(web, '/v1/services/mailer', { headers: auth(web) })).json.pid, before);
    t.equal(await cell(page, 'mailer', 'state'), 'up');
  });

  t.test('kill a service from outside and see its row change', async (t) => {
    const before = statusPid(join(scan, 'api'));
    const started = Date.now();
    process.kill(before, 'SIGKILL');
    await page.waitForFunction(
      (b) => document.querySelector('tr[data-service="api"] td[data-key="pid"]')?.textContent !== String(b),
      { timeout: BOUND_MS, polling: 'mutation' }, before,
    );
    t.comment(`the row changed ${Date.now() - started} ms after the kill`);
    await cellBecomes(page, 'api', 'last', 'SIGKILL');
    // Ready again means the new instance's row: its pid is the one in the status file by then.
    await cellBecomes(page, 'api', 'state', 'ready');
    t.equal(await cell(page, 'api', 'pid'), String(statusPid(join(scan, 'api'))), 'the new pid');
    t.pass('the row shows the death (SIGKILL) and the new pid');
  });

  t.test('the log pane follows the service, and shows markup as text', async (t) => {
    const occurrences = () => page.$eval('#log', (pre, h) => (pre.textContent ?? '').split(h as string).length - 1, HOSTILE);
    await page.click('tr[data-service="api"] button.name');
    await page.waitForFunction((h) => (document.querySelector('#log')?.textContent ?? '').includes(h), { timeout: BOUND_MS, polling: 'mutation' }, HOSTILE);
    t.equal(await page.$eval('#log-name', (s) => s.textContent), 'api');
    t.same(await page.$$eval('#log *', (els) => els.map((e) => e.tagName)), [], 'no element made from a log line: no script, no b, no img');
    t.equal(await page.title(), 'tether', 'nothing ran');
    const before = await occurrences();
    t.ok(before >= 2, 'the history: the first run and the one after the kill');
    const r = await call(web, '/v1/services/api/restart', { method: 'POST', headers: { ...auth(web), 'x-tether-csrf': (await call(web, '/v1/session', { headers: auth(web) })).json.csrf } });
    t.equal(r.status, 200);
    await page.waitForFunction((h, n) => (document.querySelector('#log')?.textContent ?? '').split(h).length - 1 > n, { timeout: BOUND_MS, polling: 'mutation' }, HOSTILE, before);
    t.pass('the restarted run logged again, and the pane followed');
    t.equal(await page.title(), 'tether');
  });

  t.test("a service's STATUS= line shows under its name, as text", async (t) => {
    const status = 'tr[data-service="notifier"] .status-text';
    // Sent with READY=1, and written before the U event: the row that says ready has it.
    await cellBecomes(page, 'notifier', 'state', 'ready');
    t.equal(await page.$eval(status, (s) => s.textContent), HOSTILE, 'the line as sent');
    t.equal(await page.$eval(status, (s) => (s as HTMLElement).hidden), false, 'shown');
    t.equal(await page.$eval(status, (s) => s.getAttribute('title')), HOSTILE, 'whole in the tooltip');
    t.equal(await page.$eval(status, (s) => s.children.length), 0, 'no element made from it: no script, no b, no img');
    t.equal(await page.title(), 'tether', 'nothing ran');
    t.equal(await page.$eval('tr[data-service="worker"] .status-text', (s) => (s as HTMLElement).hidden), true, 'a service without one shows none');
  });

  t.test('the keyboard alone: Tab to a button, Enter', async (t) => {
    await page.focus('tr[data-service="backup"] button.name');
    await page.keyboard.press('Tab'); // the next control in the row: Up
    t.equal(await page.evaluate(() => (document.activeElement as HTMLElement).dataset.action), 'up', 'Tab reaches the Up button');
    await page.keyboard.press('Enter');
    await cellBecomes(page, 'backup', 'state', 'up');
    t.pass('Enter started backup (Up asks no confirmation)');
    await page.focus('tr[data-service="backup"] button[data-action="signal"]');
    await page.keyboard.press('Enter');
    await page.waitForSelector('dialog#confirm[open]', { timeout: BOUND_MS });
    t.equal(await page.evaluate(() => document.activeElement?.id), 'signal', 'the dialog takes the focus, on the signal list');
    await page.select('#signal', 'USR1');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Tab');
    t.equal(await page.evaluate(() => document.activeElement?.id), 'confirm-ok');
    await page.keyboard.press('Enter');
    await cellBecomes(page, 'backup', 'last', 'SIGUSR1');
    t.pass('signal USR1 sent from the keyboard');
  });

  t.test('screenshots, wide and narrow', async (t) => {
    mkdirSync(ARTIFACTS, { recursive: true });
    await cellBecomes(page, 'backup', 'state', 'up'); // back from the USR1 above
    await cellBecomes(page, 'api', 'state', 'ready'); // back from the restart above
    await page.setViewport({ width: 1100, height: 700 });
    await page.waitForFunction(() => document.getAnimations().length === 0, { timeout: BOUND_MS });
    await page.screenshot({ path: join(ARTIFACTS, 'web.png') });
    await page.setViewport({ width: 380, height: 900 });
    t.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), 'no sideways scrolling at 380 px');
    t.equal(await page.$eval('thead', (h) => getComputedStyle(h).position), 'absolute', 'rows become cards');
    await page.screenshot({ path: join(ARTIFACTS, 'web-narrow.png'), fullPage: true });
    t.ok(existsSync(join(ARTIFACTS, 'web.png')) && existsSync(join(ARTIFACTS, 'web-narrow.png')), 'saved in build/artifacts');
  });

  t.test('--read-only, logged in by hand: the token typed in the form, no action buttons', async (t) => {
    const ro = await startWeb(t, ['--read-only', '--listen', '127.0.0.1:0', scan]);
    const other = await browser.createBrowserContext(); // a fresh cookie jar
    t.teardown(() => other.close());
    const p2 = await other.newPage();
    p2.on('pageerror', (err) => problems.push(`page error: ${String(err)}`));
    await p2.goto(`http://127.0.0.1:${ro.port}/`);
    await p2.waitForSelector('#login:not([hidden])', { timeout: BOUND_MS });
    t.equal(await p2.evaluate(() => document.activeElement?.id), 'token', 'the token field has the focus');
    await p2.keyboard.type('not-the-token');
    await p2.keyboard.press('Enter');
    await p2.waitForFunction(() => document.querySelector('#login-error')?.textContent === 'wrong token', { timeout: BOUND_MS });
    t.pass('a wrong token is refused, and said so');
    await p2.$eval('#token', (i) => ((i as HTMLInputElement).value = ''));
    await p2.type('#token', ro.token!);
    await p2.keyboard.press('Enter');
    await p2.waitForSelector('#conn[data-state="live"]', { timeout: BOUND_MS });
    await p2.waitForSelector('tr[data-service="worker"]', { timeout: BOUND_MS });
    t.equal(await p2.$$eval('button[data-action]', (b) => b.length), 0, 'no action button');
    t.equal(await p2.$eval('#mode', (m) => (m as HTMLElement).hidden), false, 'the read-only badge shows');
    await ro.stop();
  });

  t.test('no script error and no CSP violation', async (t) => {
    t.same(problems, []);
  });
  void scanner;
});
