// A small HTTP service. Readiness: once it listens, it writes a newline to
// fd 3 (the notification-fd), so `tether svc -wU` and `svwait -U` work.
'use strict';
const http = require('node:http');
const fs = require('node:fs');

const port = Number(process.env.PORT || 8177);
const started = Date.now();
let requests = 0;

const server = http.createServer((req, res) => {
  requests++;
  console.log(`${req.method} ${req.url}`);
  res.setHeader('content-type', 'application/json');
  res.end(`${JSON.stringify({ service: 'web', pid: process.pid, uptimeSeconds: Math.round((Date.now() - started) / 1000), requests })}\n`);
});

server.listen(port, '127.0.0.1', () => {
  console.log(`web: listening on http://127.0.0.1:${port}/`);
  try {
    fs.writeSync(3, '\n');
    fs.closeSync(3);
  } catch {
    // not run under a supervisor with a notification-fd
  }
});

server.on('error', (err) => {
  console.error(`web: ${err.message}`);
  process.exit(1);
});

process.on('SIGTERM', () => {
  console.log('web: stopping');
  server.close(() => process.exit(0));
});
