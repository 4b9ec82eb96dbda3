/**
 * The packages as a release makes them, for the install tests: a clean copy
 * of the checkout (its git files, no build output) packed with `npm pack`
 * (so `prepack` must build dist/), and the platform package of this host
 * with the addon placed in it by `napi artifacts`, then packed too.
 */
import { execFileSync, spawnSync, type SpawnSyncReturns } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { delimiter, dirname, join } from 'node:path'

export const root = join(__dirname, '..', '..')

/** `cmd args` in `cwd`; throws with its output when it exits non-zero. */
export function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): SpawnSyncReturns<string> {
  const result = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })
  if (result.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} (in ${cwd}) exited ${result.status ?? result.signal}\n${result.stdout}\n${result.stderr}`)
  }
  return result
}

/** The tarball `npm pack` writes for the package in `dir`, into `out`. */
function pack(dir: string, out: string): string {
  const result = run('npm', ['pack', '--pack-destination', out, '--json'], dir)
  // prepack's output comes first on stdout; the JSON report is the last thing
  const report = JSON.parse(result.stdout.slice(result.stdout.lastIndexOf('\n[') + 1)) as { filename: string }[]
  return join(out, report[0]!.filename)
}

export interface Tarballs {
  root: string
  platform: string
}

/** Packs the root package and `npm/<platform>` (the addon placed by `napi artifacts`) into `work`. */
export function packTarballs(work: string, platformDir: string, addon: string): Tarballs {
  const clone = join(work, 'clone')
  // what a clean clone has: the tracked (and new, unignored) files; no dist/, no *.node
  const files = execFileSync('git', ['ls-files', '-co', '--exclude-standard', '-z'], { cwd: root, encoding: 'utf8' })
    .split('\0')
    .filter((f) => f && f !== 'node_modules' && existsSync(join(root, f)))
  for (const f of files) {
    mkdirSync(dirname(join(clone, f)), { recursive: true })
    cpSync(join(root, f), join(clone, f))
  }
  // the build tools (tsc, napi); the consumer never sees this directory
  symlinkSync(join(root, 'node_modules'), join(clone, 'node_modules'), 'dir')

  // the release workflow's layout: one download directory per target, then `napi artifacts`
  const triple = readTriple(platformDir)
  mkdirSync(join(clone, 'artifacts', `bindings-${triple}`), { recursive: true })
  cpSync(join(root, 'lib', addon), join(clone, 'artifacts', `bindings-${triple}`, addon))
  // only this host's target: the others are built by the release workflow's matrix
  const config = join(work, 'napi-one-target.json')
  writeFileSync(config, JSON.stringify({ binaryName: 'arcflow', packageName: 'arcflow', targets: [triple] }))
  run(join(root, 'node_modules', '.bin', 'napi'), ['artifacts', '-c', config, '--output-dir', 'artifacts'], clone)

  const out = join(work, 'tarballs')
  mkdirSync(out)
  return { root: pack(clone, out), platform: pack(join(clone, 'npm', platformDir), out) }
}

function readTriple(platformDir: string): string {
  const pkg = require(join(root, 'package.json')) as { napi: { targets: string[] } }
  const [system, arch, abi] = platformDir.split('-')
  const archs: Record<string, string> = { x64: 'x86_64', arm64: 'aarch64' }
  const triple = pkg.napi.targets.find((t) => t.startsWith(`${archs[arch!] ?? arch}-`) && t.includes(system === 'win32' ? 'windows' : system!) && (!abi || t.endsWith(abi)))
  if (!triple) throw new Error(`no target in package.json for ${platformDir}`)
  return triple
}

/**
 * The environment of a user with no Rust: PATH without any directory that
 * holds `cargo` or `rustc`, nothing pointing back into the checkout.
 */
export function userEnv(): NodeJS.ProcessEnv {
  const path = (process.env.PATH ?? '')
    .split(delimiter)
    .filter((dir) => dir && !['cargo', 'rustc'].some((tool) => existsSync(join(dir, tool))))
    .join(delimiter)
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: path }
  for (const key of Object.keys(env)) {
    if (/^(NODE_PATH|NODE_OPTIONS|CARGO|RUSTUP|NAPI_RS_|npm_)/i.test(key)) delete env[key]
  }
  return env
}

/** Every file in a tarball, relative to its package/ directory. */
export function tarballFiles(tgz: string): string[] {
  return execFileSync('tar', ['-tzf', tgz], { encoding: 'utf8' })
    .split('\n')
    .filter((f) => f && !f.endsWith('/'))
    .map((f) => f.replace(/^package\//, ''))
    .sort()
}

/** The highest `GLIBC_x.y` symbol version an ELF file needs, as [x, y]. */
export function highestGlibc(file: string): [number, number] {
  const symbols = execFileSync('objdump', ['-T', file], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 })
  const versions = [...symbols.matchAll(/GLIBC_(\d+)\.(\d+)/g)].map((m) => [Number(m[1]), Number(m[2])] as [number, number])
  if (versions.length === 0) throw new Error(`${file}: no GLIBC_ symbol versions (not a glibc binary?)`)
  return versions.reduce((a, b) => (b[0] > a[0] || (b[0] === a[0] && b[1] > a[1]) ? b : a))
}
