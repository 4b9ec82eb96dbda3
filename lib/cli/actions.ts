/**
 * The actions a command-line run has: the built-ins, and those of the
 * modules given with `--actions` (a default export that is an object of
 * actions, or a function that receives the engine).
 */
import { execFile } from 'node:child_process'
import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'

import type { Engine } from '../engine/engine'
import type { Action, ActionContext } from '../engine/attempt'

/** A usage problem: exit code 2, message as is. */
export class UsageError extends Error {
  override name = 'UsageError'
}

function fail(message: string, code: string, extra: Record<string, unknown> = {}): never {
  throw Object.assign(new Error(message), { code, ...extra })
}

const object = (input: unknown): Record<string, unknown> => (input !== null && typeof input === 'object' ? input as Record<string, unknown> : {})

/** `core.sleep`: waits `ms` (a number, or `{ ms }`), cut short by the task's signal. */
function sleep(input: unknown, { signal }: ActionContext): Promise<unknown> {
  const ms = typeof input === 'number' ? input : Number(object(input).ms)
  if (!Number.isFinite(ms) || ms < 0) fail(`core.sleep needs a number of milliseconds, got ${JSON.stringify(input)}`, 'ARCFLOW_BAD_INPUT')
  return new Promise((done, reject) => {
    if (signal.aborted) return reject(signal.reason)
    const onAbort = (): void => {
      clearTimeout(timer)
      reject(signal.reason)
    }
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort)
      done({ slept: ms })
    }, ms)
    signal.addEventListener('abort', onAbort, { once: true })
  })
}

/** `http.request`: fetch with the task's signal; a 4xx/5xx answer fails the attempt (code `HTTP_<status>`). */
async function httpRequest(input: unknown, { signal }: ActionContext): Promise<unknown> {
  const spec = typeof input === 'string' ? { url: input } : object(input)
  if (typeof spec.url !== 'string') fail(`http.request needs a url, got ${JSON.stringify(input)}`, 'ARCFLOW_BAD_INPUT')
  const headers = { ...(object(spec.headers) as Record<string, string>) }
  let body: string | undefined
  if (spec.json !== undefined) {
    body = JSON.stringify(spec.json)
    headers['content-type'] ??= 'application/json'
  } else if (spec.body !== undefined) body = typeof spec.body === 'string' ? spec.body : JSON.stringify(spec.body)
  const response = await fetch(spec.url as string, { method: typeof spec.method === 'string' ? spec.method : body ? 'POST' : 'GET', headers, body: body ?? null, signal })
  const text = await response.text()
  let parsed: unknown = text
  if ((response.headers.get('content-type') ?? '').includes('json')) {
    try {
      parsed = JSON.parse(text)
    } catch {
      // not JSON after all: kept as text
    }
  }
  const result = { status: response.status, ok: response.ok, headers: Object.fromEntries(response.headers), body: parsed }
  if (response.status >= 400) fail(`${spec.method ?? 'GET'} ${spec.url} answered ${response.status}`, `HTTP_${response.status}`, { result })
  return result
}

/** `shell.exec`: runs a command (no shell: `{ command, args, cwd, env }`), killed by the task's signal. */
function shellExec(input: unknown, { signal }: ActionContext): Promise<unknown> {
  const spec = typeof input === 'string' ? { command: input } : object(input)
  if (typeof spec.command !== 'string') fail(`shell.exec needs a command, got ${JSON.stringify(input)}`, 'ARCFLOW_BAD_INPUT')
  const args = Array.isArray(spec.args) ? spec.args.map(String) : []
  return new Promise((done, reject) => {
    execFile(spec.command as string, args, {
      signal,
      cwd: typeof spec.cwd === 'string' ? spec.cwd : undefined,
      env: { ...process.env, ...(object(spec.env) as Record<string, string>) },
      maxBuffer: 64 * 1024 * 1024,
    }, (error, stdout, stderr) => {
      if (signal.aborted) return reject(signal.reason)
      const code = error ? ((error as { code?: unknown }).code ?? 1) : 0
      if (error) reject(Object.assign(new Error(`${spec.command} exited with ${code}: ${stderr.trim().slice(0, 500)}`), { code: 'SHELL_EXIT', exitCode: code, stdout, stderr }))
      else done({ code, stdout, stderr })
    })
  })
}

/** The built-in actions; `shell.exec` only with `allowShell`. */
export function builtinActions(allowShell: boolean): Record<string, Action> {
  const actions: Record<string, Action> = {
    'core.echo': async (input: unknown) => input,
    'core.sleep': sleep,
    'core.fail': async (input: unknown) => {
      const spec = typeof input === 'string' ? { message: input } : object(input)
      fail(typeof spec.message === 'string' ? spec.message : 'core.fail', typeof spec.code === 'string' ? spec.code : 'ARCFLOW_FAIL')
    },
    'http.request': httpRequest,
  }
  if (allowShell) actions['shell.exec'] = shellExec
  return actions
}

// a real dynamic import (this file is compiled to CommonJS, where `import()` would become `require`)
const importModule = new Function('url', 'return import(url)') as (url: string) => Promise<{ default?: unknown }>

/** Registers the built-ins and every `--actions` module's actions on `engine`. */
export async function registerActions(engine: Engine, modules: string[], allowShell: boolean): Promise<void> {
  for (const [name, fn] of Object.entries(builtinActions(allowShell))) engine.action(name, fn)
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
