/**
 * Loads the native addon through the loader `@napi-rs/cli` generates
 * (`native.js`), and when no binary can be loaded, says which platform
 * package was expected, with every load error chained as `cause`.
 */
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

function isMusl(): boolean {
  if (process.platform !== 'linux') return false
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined
  return !report?.header?.glibcVersionRuntime
}

function load(): typeof Native {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('../lib/native.js') as typeof Native
  } catch (error) {
    const expected = expectedPlatformPackage()
    throw new NativeBindingError(
      `arcflow could not load its native binary for ${process.platform}-${process.arch}: ` +
        `expected the package '${expected}' (installed with arcflow as an optional dependency) ` +
        `or a local build (npm run build:native). Every load error is chained as 'cause'.`,
      expected,
      { cause: error },
    )
  }
}

export const native: typeof Native = load()
