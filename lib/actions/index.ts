/**
 * The built-in actions, the same in a service and in the `arcflow` command,
 * so one workflow file runs in both: `core.echo`, `core.sleep`, `core.fail`,
 * `http.request`, and `shell.exec` only when asked for.
 */
import type { Action } from '../engine/attempt'
import { echo, failAction, sleep } from './core'
import { httpRequest } from './http'
import { shellExec } from './shell'

/** Which built-ins: `shell.exec` is off by default (it runs any program a workflow names). */
export interface BuiltinOptions {
  /** Include `shell.exec`. Default false. */
  shell?: boolean
}

/** Every built-in action's name, `shell.exec` included. */
export const BUILTIN_ACTION_NAMES: readonly string[] = ['core.echo', 'core.sleep', 'core.fail', 'http.request', 'shell.exec']

/**
 * The built-in actions by name, to register on an engine (or pass
 * `new Engine({ builtins: true })`).
 *
 * @example
 * for (const [name, fn] of Object.entries(builtinActions({ shell: true }))) engine.action(name, fn)
 */
export function builtinActions(options: BuiltinOptions = {}): Record<string, Action> {
  const actions: Record<string, Action> = {
    'core.echo': echo,
    'core.sleep': sleep,
    'core.fail': failAction,
    'http.request': httpRequest,
  }
  if (options.shell) actions['shell.exec'] = shellExec
  return actions
}
