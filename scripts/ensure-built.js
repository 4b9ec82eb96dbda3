// Builds what is missing or stale: the native addon (lib/*.node, through
// @napi-rs/cli) and the TypeScript build (dist/). `--release` asks for an
// optimised addon (benchmarks); tests use the faster debug build. On a Linux
// x64 glibc host both are linked against glibc 2.17 (scripts/napi-cross.js),
// so the addon the tests load is the one a package would ship.
'use strict'
const { execFileSync } = require('node:child_process')
const napiCross = require('./napi-cross')
const fs = require('node:fs')
const path = require('node:path')

const root = path.join(__dirname, '..')
const release = process.argv.includes('--release')
const cross = napiCross.applies()
// the marker's profile says too whether the addon was linked against glibc 2.17
const flavor = cross ? '+glibc2.17' : ''
const profile = (release ? 'release' : 'debug') + flavor
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
if (stale || (release && !(known && builtProfile === profile)) || (cross && !(known && builtProfile.endsWith(flavor)))) {
  const args = ['napi', 'build', '--platform', '--manifest-path', 'crates/arcflow-node/Cargo.toml',
    '--output-dir', 'lib', '--js', 'native.js', '--dts', 'native.d.ts']
  if (release) args.push('--release')
  if (cross) {
    napiCross.ensureToolchain(root)
    // an explicit target keeps this build in target/<triple>/, apart from the
    // host toolchain's `cargo test` in target/debug (else each rebuilds the other's C code)
    args.push('--target', napiCross.TRIPLE, '--use-napi-cross')
  }
  run('npx', args)
  const built = fs.readdirSync(path.join(root, 'lib')).find((f) => f.endsWith('.node'))
  fs.writeFileSync(marker, `${profile} ${mtime(path.join(root, 'lib', built))}\n`)
}

const tsSources = Math.max(newest(path.join(root, 'lib'), (f) => f.endsWith('.ts')), mtime(path.join(root, 'tsconfig.json')))
if (mtime(path.join(root, 'dist', 'index.mjs')) < tsSources) {
  run('npx', ['tsc', '-p', 'tsconfig.json'])
  run('node', ['scripts/write-esm-entry.js'])
}
