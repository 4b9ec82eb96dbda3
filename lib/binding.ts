/**
 * Loads the native addon through the loader `@napi-rs/cli` generates
 * (`native.js`), and when no binary can be loaded, says in a few lines which
 * platform package was expected, what platform was detected and what to do,
 * with every load error chained as `cause`.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

import type * as Native from './native'
import { NativeBindingError } from './errors'

/** The platform package `@napi-rs/cli` names for this process, e.g. `arcflow-linux-x64-gnu`. */
export function expectedPlatformPackage(
  platform: string = process.platform,
  arch: string = process.arch,
  musl: boolean = isMusl(),
): string {
  let abi = ''
  if (platform === 'linux') abi = musl ? '-musl' : '-gnu'
  else if (platform === 'win32') abi = '-msvc'
  return `arcflow-${platform}-${arch}${abi}`
}

/**
 * The platforms a prebuilt binary is published for, from `napi.targets` in
 * package.json (a Rust triple → `@napi-rs/cli`'s platform name, e.g.
 * `x86_64-unknown-linux-gnu` → `linux-x64-gnu`).
 */
export function supportedPlatforms(): string[] {
  const pkg = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { napi: { targets: string[] } }
  const archs: Record<string, string> = { x86_64: 'x64', aarch64: 'arm64', i686: 'ia32' }
  const systems: Record<string, string> = { linux: 'linux', darwin: 'darwin', windows: 'win32' }
  return pkg.napi.targets.map((triple) => {
    const [arch, , system, abi] = triple.split('-')
    return [systems[system] ?? system, archs[arch] ?? arch, abi].filter(Boolean).join('-')
  })
}

function isMusl(): boolean {
  if (process.platform !== 'linux') return false
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined
  return !report?.header?.glibcVersionRuntime
}

/**
 * The loader's errors, one link each, without its wrapper (whose advice,
 * "remove the lock file", does not apply to an installed package). Each
 * link's stack is its message's first line: the loader re-creates them, so
 * their frames would only point into the loader.
 */
function loadErrors(error: unknown): Error[] {
  const found: Error[] = []
  let link = (error as { cause?: unknown }).cause
  if (link === undefined) link = error // not the loader's chain (e.g. a syntax error in it)
  while (link instanceof Error) {
    found.push(link)
    link = link.cause
  }
  return found.map((e) => {
    const copy = new Error(e.message)
    copy.stack = `Error: ${e.message.split('\n')[0]}`
    return copy
  })
}

/** @internal The error for a failed load (`error`: what the loader threw) on the given platform. */
export function bindingError(
  error: unknown,
  platform: string = process.platform,
  arch: string = process.arch,
  musl: boolean = isMusl(),
): NativeBindingError {
  const expected = expectedPlatformPackage(platform, arch, musl)
  const detected = `${platform}-${arch}${platform === 'linux' ? (musl ? ' (musl)' : ' (glibc)') : ''}`
  const supported = supportedPlatforms()
  const errors = loadErrors(error)
  // a binary that is there but does not load (e.g. a glibc too old for it) is the one error worth showing
  const broken = errors.find((e) => !/Cannot find module|Unsupported/.test(e.message))
  const lines = [
    `arcflow has no loadable native binary for this platform: detected ${detected}, expected the package '${expected}'.`,
    supported.includes(expected.slice('arcflow-'.length))
      ? `To fix: npm install ${expected} (npm installs it with arcflow unless optional dependencies are omitted: --omit=optional, --no-optional).`
      : `No prebuilt binary is published for this platform.`,
    `Prebuilt binaries: ${supported.join(', ')}; elsewhere, or in a clone of the arcflow repository, build from source: npm run build (see "Contributing" in its README).`,
  ]
  if (broken) lines.splice(1, 0, `A binary was found but failed to load: ${broken.message.split('\n')[0]}`)
  const cause = errors.reduceRight<Error | undefined>((next, e) => {
    if (next) e.cause = next
    return e
  }, undefined)
  return new NativeBindingError(`${lines.join('\n')}\n(${errors.length} load errors chained as 'cause')`, expected, { cause })
}

let loaded: typeof Native | undefined
let failure: NativeBindingError | undefined

/** The native binding, loaded once; throws {@link NativeBindingError} (every time) if it cannot be. */
export function loadNative(): typeof Native {
  if (loaded) return loaded
  if (failure) throw failure
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    loaded = require('../lib/native.js') as typeof Native
    return loaded
  } catch (error) {
    failure = bindingError(error)
    throw failure
  }
}

// `native` loads the binary at its first use, not at import, so that what
// needs none (`arcflow --help`, `--version`) runs without it; `import
// 'arcflow'` still fails at once (index.ts calls loadNative). The proxy is
// only the object's prototype: the first read copies the binding's exports
// onto the object, so every later read is a plain property read.
export const native: typeof Native = Object.create(
  new Proxy(
    {},
    {
      get(_target, key) {
        const binding = loadNative()
        Object.assign(native, binding)
        return Reflect.get(binding, key)
      },
    },
  ),
) as typeof Native
