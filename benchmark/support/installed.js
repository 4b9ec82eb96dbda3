// The installed version of a package, read from its package.json: some
// packages (graphile-worker, pg-boss) do not export that file.
'use strict'
const fs = require('node:fs')
const path = require('node:path')

function installedVersion(name) {
  for (const dir of require.resolve.paths(name) ?? []) {
    const file = path.join(dir, name, 'package.json')
    if (fs.existsSync(file)) return JSON.parse(fs.readFileSync(file, 'utf8')).version
  }
  throw new Error(`${name} is not installed: run npm install`)
}

module.exports = { installedVersion }
