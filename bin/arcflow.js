#!/usr/bin/env node
'use strict'
// The `arcflow` command (see `arcflow --help`).
require('../dist/cli/main.js')
  .main(process.argv.slice(2))
  .then((code) => {
    process.exitCode = code
  })
