#!/usr/bin/env node
'use strict';
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
