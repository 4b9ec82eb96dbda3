// Builds what is missing or stale: the native addon (lib/*.node, through
// @napi-rs/cli) and the TypeScript build (dist/). `--release` asks for an
// optimised addon (benchmarks); tests use the faster debug build.
'use strict'
const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const root = path.join(__dirname, '..')
const release = process.argv.includes('--release')
const profile = release ? 'release' : 'debug'
const marker = path.join(root, 'lib', '.native-profile')

function newest(dir, filter) {
  let latest = 0
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name)
    if (entry.isDirectory()) latest = Math.max(latest, newest(full, filter))
    else if (filter(entry.name)) latest = Math.max(latest, fs.statSync(full).mtimeMs)
  }
  return latest
}

function mtime(file) {
  return fs.existsSync(file) ? fs.statSync(file).mtimeMs : 0
}

function run(cmd, args) {
  console.error(`$ ${cmd} ${args.join(' ')}`)
  execFileSync(cmd, args, { cwd: root, stdio: 'inherit' })
}

const addon = fs.readdirSync(path.join(root, 'lib')).find((f) => f.endsWith('.node'))
const sources = Math.max(
  newest(path.join(root, 'crates'), (f) => f.endsWith('.rs') || f === 'Cargo.toml'),
  mtime(path.join(root, 'Cargo.toml')),
  mtime(path.join(root, 'Cargo.lock')),
)
// The marker names the profile and the addon file it describes: an addon
// built by hand since (npm run build:native) is of unknown profile.
const [builtProfile, builtMtime] = fs.existsSync(marker) ? fs.readFileSync(marker, 'utf8').trim().split(' ') : []
const addonMtime = addon ? mtime(path.join(root, 'lib', addon)) : 0
const stale = !addon || addonMtime < sources
const known = builtProfile !== undefined && Number(builtMtime) === addonMtime
if (stale || (release && !(known && builtProfile === 'release'))) {
  const args = ['napi', 'build', '--platform', '--manifest-path', 'crates/arcflow-node/Cargo.toml',
    '--output-dir', 'lib', '--js', 'native.js', '--dts', 'native.d.ts']
  if (release) args.push('--release')
  run('npx', args)
  const built = fs.readdirSync(path.join(root, 'lib')).find((f) => f.endsWith('.node'))
  fs.writeFileSync(marker, `${profile} ${mtime(path.join(root, 'lib', built))}\n`)
}

const tsSources = Math.max(newest(path.join(root, 'lib'), (f) => f.endsWith('.ts')), mtime(path.join(root, 'tsconfig.json')))
if (mtime(path.join(root, 'dist', 'index.mjs')) < tsSources) {
  run('npx', ['tsc', '-p', 'tsconfig.json'])
  run('node', ['scripts/write-esm-entry.js'])
}
