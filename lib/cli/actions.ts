/**
 * The actions a command-line run has: the built-ins, and those of the
 * modules given with `--actions` (a default export that is an object of
 * actions, or a function that receives the engine).
 */
import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'

import type { Engine } from '../engine/engine'
import type { Action } from '../engine/attempt'
import { builtinActions } from '../actions'

/** A usage problem: exit code 2, message as is. */
export class UsageError extends Error {
  override name = 'UsageError'
}

/** commander's collector for a repeatable flag: `--actions a.js --actions b.js` (one value per flag, so a file argument after it stays an argument). */
export const collect = (value: string, previous: string[] = []): string[] => [...previous, value]

// a real dynamic import (this file is compiled to CommonJS, where `import()` would become `require`)
const importModule = new Function('url', 'return import(url)') as (url: string) => Promise<{ default?: unknown }>

/** Registers the built-ins and every `--actions` module's actions on `engine`. */
export async function registerActions(engine: Engine, modules: string[], allowShell: boolean): Promise<void> {
  for (const [name, fn] of Object.entries(builtinActions({ shell: allowShell }))) engine.action(name, fn)
  for (const file of modules) {
    let loaded: { default?: unknown }
    try {
      loaded = await importModule(pathToFileURL(resolve(file)).href)
    } catch (error) {
      throw new UsageError(`cannot load actions from ${file}: ${(error as Error).message}`)
    }
    const exported = loaded.default
    if (typeof exported === 'function') await (exported as (engine: Engine) => unknown)(engine)
    else if (exported !== null && typeof exported === 'object') {
      for (const [name, fn] of Object.entries(exported)) {
        if (typeof fn !== 'function') throw new UsageError(`${file}: action '${name}' is not a function`)
        engine.action(name, fn as Action)
      }
    } else throw new UsageError(`${file} must export default an object of actions or a function that receives the engine`)
  }
}
