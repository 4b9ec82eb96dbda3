#!/usr/bin/env node
'use strict'
// The `arcflow` command (see `arcflow --help`).
require('../dist/cli/main.js')
  .main(process.argv.slice(2))
  .then((code) => {
    // main resolves once the engine is closed and its store flushed: exit
    // then, not when the event loop drains (an action that ignored its
    // abort signal may hold a timer for minutes)
    process.exitCode = code
    process.stdout.write('', () => process.stderr.write('', () => process.exit(code)))
  })
