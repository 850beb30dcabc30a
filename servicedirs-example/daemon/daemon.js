// A daemon that answers on 127.0.0.1:8178 with one line and closes. Binding a
// fixed port also means a second copy cannot run beside the first.
'use strict';
const net = require('node:net');

const port = Number(process.env.DAEMON_PORT || 8178);
const server = net.createServer((sock) => sock.end(`hello from daemon ${process.pid}\n`));
server.listen(port, '127.0.0.1', () => console.log(`daemon: pid ${process.pid} listening on 127.0.0.1:${port}`));
server.on('error', (err) => {
  console.error(`daemon: ${err.message}`);
  process.exit(1);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
