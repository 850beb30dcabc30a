#!/bin/sh
':' //; export TETHER_NOFILE="$(ulimit -Sn)"; [ "$1" = svscan ] && exec node --no-memory-reducer "$0" "$@"; exec node "$0" "$@"
'use strict';
// A shell script and a JavaScript file at once. As a command, /bin/sh runs
// line 2 and nothing after it: it records the soft open-files limit we were
// started with in TETHER_NOFILE, then execs node on this file. Node raises
// its own soft limit to the hard one before any JavaScript runs, and the
// original is lost; services must get that original, as under s6. To node,
// line 2 is a string and a comment. `node bin/tether.js` runs the JavaScript
// straight away: a supervisor that svscan starts that way inherits its
// TETHER_NOFILE.
//
// svscan runs with V8's memory reducer off. Once a shared scanner's heap
// passes 10 MB (12.5 MB with 1000 services), any full collection arms the
// reducer, which then wakes it every 8 s until it judges it idle and
// collects (src/os/heap.ts says what that cost). Only the command line can
// turn it off for such a heap: V8 reads the flag once, when it sets the
// heap up.
//
// Dispatches `tether COMMAND ...` to the bundle of that one command, so that a
// client pays only for the code it runs.
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const command = process.argv[2];
const buildDir = join(__dirname, '..', 'build', 'cli');
if (command === undefined || command === '-h' || command === '--help') {
  require(join(buildDir, 'help.js')).main([]);
} else {
  const file = join(buildDir, `${command}.js`);
  if (!/^[a-z][a-z0-9-]*$/.test(command) || command === 'help' || !existsSync(file)) {
    process.stderr.write(`tether: fatal: unknown command: ${command} (see tether --help)\n`);
    process.exitCode = 100;
  } else {
    require(file).main(process.argv.slice(3));
  }
}
