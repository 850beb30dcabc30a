// tether web's page: rows kept live by Server-Sent Events, actions as POSTs
// with the CSRF token. Everything the server sends is put in the page as
// text (textContent), never as HTML. No framework, no build step.
'use strict';

const $ = (id) => document.getElementById(id);
const rows = new Map(); // name -> { tr, data, at }
let session = null;
let events = null;
let selected = null;
let logStream = null;
const MAX_LOG_LINES = 2000;

const COLUMNS = [
  ['state', 'State'], ['pid', 'PID'], ['uptime', 'Uptime'], ['ready', 'Ready'], ['last', 'Last exit'], ['deaths', 'Deaths'],
];
const CONFIRM = {
  down: (n) => `Stop ${n}? It stays down until started again.`,
  restart: (n) => `Restart ${n}? It gets its down signal and comes back.`,
  signal: (n) => `Send a signal to ${n}:`,
};

function api(path, options = {}) {
  const headers = { ...(options.headers || {}) };
  if (options.method === 'POST') {
    headers['Content-Type'] = 'application/json';
    if (session) headers['X-Tether-CSRF'] = session.csrf;
  }
  return fetch(path, { ...options, headers, credentials: 'same-origin' }).then(async (res) => {
    const body = await res.json().catch(() => ({}));
    return { status: res.status, body };
  });
}

function duration(secs) {
  if (secs === null || secs === undefined) return '-';
  if (secs < 60) return `${secs}s`;
  if (secs < 3600) return `${Math.floor(secs / 60)}m ${secs % 60}s`;
  if (secs < 86400) return `${Math.floor(secs / 3600)}h ${Math.floor((secs % 3600) / 60)}m`;
  return `${Math.floor(secs / 86400)}d ${Math.floor((secs % 86400) / 3600)}h`;
}

function cellText(key, row, at) {
  switch (key) {
    case 'pid': return row.pid === null ? '-' : String(row.pid);
    case 'uptime': return row.seconds === null ? '-' : duration(row.seconds + Math.floor((Date.now() - at) / 1000));
    case 'ready': return row.ready === null ? '-' : row.ready ? 'yes' : 'no';
    case 'last': return row.last || '-';
    case 'deaths': return String(row.deathTally);
    default: return String(row[key]);
  }
}

function button(label, action, name, danger) {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = label;
  b.dataset.action = action;
  b.setAttribute('aria-label', `${label} ${name}`);
  if (danger) b.className = 'danger';
  b.addEventListener('click', () => act(name, action));
  return b;
}

/** The service's last STATUS= line (notify-socket), its control characters shown as `?`; '' for none. */
function statusText(row) {
  const text = row.notify && typeof row.notify.status === 'string' ? row.notify.status : '';
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
}

function makeRow(name) {
  const tr = document.createElement('tr');
  tr.dataset.service = name;
  const nameCell = document.createElement('td');
  nameCell.dataset.label = 'Service';
  const who = document.createElement('div');
  who.className = 'who';
  const nameButton = document.createElement('button');
  nameButton.type = 'button';
  nameButton.className = 'name';
  nameButton.textContent = name;
  nameButton.title = session && session.logs ? 'Show its log' : '';
  nameButton.addEventListener('click', () => select(name));
  const status = document.createElement('span');
  status.className = 'status-text';
  status.hidden = true;
  who.append(nameButton, status);
  nameCell.append(who);
  tr.append(nameCell);
  for (const [key, label] of COLUMNS) {
    const td = document.createElement('td');
    td.className = key === 'state' ? 'state' : 'num';
    td.dataset.key = key;
    td.dataset.label = label;
    tr.append(td);
  }
  const cell = document.createElement('td');
  cell.className = 'act';
  const actions = document.createElement('div');
  actions.className = 'actions';
  if (session && !session.readOnly) {
    actions.append(button('Up', 'up', name), button('Down', 'down', name, true), button('Restart', 'restart', name, true), button('Signal', 'signal', name, true));
  }
  cell.append(actions);
  tr.append(cell);
  return tr;
}

function render(row, flash) {
  let entry = rows.get(row.name);
  if (!entry) {
    entry = { tr: makeRow(row.name) };
    rows.set(row.name, entry);
    const tbody = document.querySelector('#services tbody');
    const after = [...rows.keys()].sort().find((n) => n > row.name);
    tbody.insertBefore(entry.tr, after ? rows.get(after).tr : null);
  }
  entry.data = row;
  entry.at = Date.now();
  for (const td of entry.tr.querySelectorAll('td[data-key]')) td.textContent = cellText(td.dataset.key, row, entry.at);
  const status = entry.tr.querySelector('.status-text');
  status.textContent = statusText(row);
  status.title = status.textContent; // the whole line, where the cell cuts it
  status.hidden = status.textContent === '';
  entry.tr.querySelector('td.state').dataset.state = row.state;
  entry.tr.title = row.error ? row.error : '';
  if (flash) {
    entry.tr.classList.remove('changed');
    void entry.tr.offsetWidth; // restart the animation
    entry.tr.classList.add('changed');
  }
  $('empty').hidden = rows.size > 0;
}

function tick() {
  for (const entry of rows.values()) {
    const td = entry.tr.querySelector('td[data-key="uptime"]');
    td.textContent = cellText('uptime', entry.data, entry.at);
  }
}

function connect() {
  events = new EventSource('/v1/events');
  events.addEventListener('open', () => setConn('live', 'live'));
  events.addEventListener('snapshot', (e) => {
    const { services } = JSON.parse(e.data);
    const names = new Set(services.map((s) => s.name));
    for (const [name, entry] of rows) if (!names.has(name)) { entry.tr.remove(); rows.delete(name); }
    for (const s of services) render(s, false);
    $('empty').hidden = rows.size > 0;
  });
  events.addEventListener('service', (e) => {
    const { service } = JSON.parse(e.data);
    render(service, true);
  });
  events.addEventListener('error', () => {
    if (events.readyState === EventSource.CLOSED) {
      setConn('lost', 'disconnected');
      start(); // the session may have ended: check, then reconnect
    } else setConn('lost', 'reconnecting');
  });
}

function setConn(state, text) {
  const c = $('conn');
  c.dataset.state = state;
  c.textContent = text;
}

function say(text, isError) {
  const m = $('message');
  m.textContent = text;
  m.classList.toggle('error', !!isError);
}

function confirmAction(name, action) {
  const dialog = $('confirm');
  if (!CONFIRM[action]) return Promise.resolve({});
  $('confirm-text').textContent = CONFIRM[action](name);
  $('signal-field').hidden = action !== 'signal';
  $('confirm-ok').textContent = action === 'signal' ? 'Send' : action[0].toUpperCase() + action.slice(1);
  dialog.returnValue = '';
  dialog.showModal();
  (action === 'signal' ? $('signal') : $('confirm-ok')).focus();
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => {
      resolve(dialog.returnValue === 'ok' ? (action === 'signal' ? { signal: $('signal').value } : {}) : null);
    }, { once: true });
  });
}

async function act(name, action) {
  const params = await confirmAction(name, action);
  if (params === null) return;
  say(`${action}: ${name}...`);
  const { status, body } = await api(`/v1/services/${encodeURIComponent(name)}/${action}`, { method: 'POST', body: JSON.stringify(params) });
  if (status === 200) say(`${action}: ${name}: sent`);
  else say(`${action}: ${name}: ${body.error ? body.error.message : `HTTP ${status}`}`, true);
  // The row is not drawn from this answer: it may be older than an event already shown.
}

// The log pane follows one service at a time; each line goes in as a text node.
function appendLines(lines) {
  const pre = $('log');
  const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
  const batch = document.createDocumentFragment();
  for (const l of lines) batch.append(document.createTextNode(`${l.ts ? `${l.ts.slice(0, 23).replace('T', ' ')} ` : ''}${l.line}\n`));
  pre.append(batch);
  while (pre.childNodes.length > MAX_LOG_LINES) pre.firstChild.remove();
  if (atBottom) pre.scrollTop = pre.scrollHeight;
}

async function select(name) {
  if (!session || !session.logs) return;
  selected = name;
  for (const [n, entry] of rows) entry.tr.classList.toggle('selected', n === name);
  if (logStream) logStream.close();
  logStream = null;
  $('logs').hidden = false;
  $('log-name').textContent = name;
  const pre = $('log');
  pre.textContent = '';
  const path = `/v1/services/${encodeURIComponent(name)}/log`;
  const probe = await api(`${path}?n=0`);
  if (selected !== name) return;
  if (probe.status !== 200) {
    pre.textContent = probe.body.error ? probe.body.error.message : `HTTP ${probe.status}`;
    return;
  }
  logStream = new EventSource(`${path}?n=200&follow=1`);
  // A reconnection sends the last lines again: start the pane afresh.
  logStream.addEventListener('open', () => { pre.textContent = ''; });
  logStream.addEventListener('lines', (e) => appendLines(JSON.parse(e.data).lines));
  logStream.addEventListener('error', (e) => {
    if (e.data) appendLines([{ ts: null, line: JSON.parse(e.data).message }]);
  });
}

async function login(token) {
  const { status, body } = await api('/v1/login', { method: 'POST', body: JSON.stringify({ token }) });
  if (status !== 200) throw new Error(body.error ? body.error.message : `HTTP ${status}`);
}

async function start() {
  if (events) events.close();
  const fromLink = /^#token=(.+)$/.exec(location.hash);
  if (fromLink) {
    history.replaceState(null, '', location.pathname); // the token leaves the address bar and history
    await login(decodeURIComponent(fromLink[1])).catch((err) => { $('login-error').textContent = err.message; });
  }
  const { status, body } = await api('/v1/session');
  if (status === 401) {
    $('login').hidden = false;
    $('board').hidden = true;
    setConn('lost', 'not logged in');
    $('token').focus();
    return;
  }
  if (status !== 200) {
    setConn('lost', body.error ? body.error.message : `HTTP ${status}`);
    return;
  }
  session = body;
  $('login').hidden = true;
  $('board').hidden = false;
  $('mode').hidden = !session.readOnly;
  connect();
}

$('login-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  try {
    await login($('token').value);
    $('token').value = '';
    $('login-error').textContent = '';
    await start();
  } catch (err) {
    $('login-error').textContent = err.message;
  }
});

// Uptimes advance in the page itself: the server is asked nothing for them.
setInterval(tick, 1000);
start();
