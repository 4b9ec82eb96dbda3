/**
 * `arcflow run` and `arcflow runs resume`: an engine on the store, the
 * actions, the workflow, then the run watched to its end. Ctrl-C cancels
 * the run cleanly (in-flight handlers are aborted, the store is flushed);
 * a second Ctrl-C exits at once.
 */
import { mkdirSync, readFileSync } from 'node:fs'
import { dirname } from 'node:path'

import { Engine, InputError } from '../engine/engine'
import type { Durability, Run } from '../engine/run'
import { RunStoppedError } from '../engine/run'
import { MeteringError } from '../engine/metering'
import { ArcflowError, WorkflowError } from '../errors'
import { describeProblem } from '../workflow/load'
import type { WorkflowDefinition } from '../workflow/model'
import { registerActions, UsageError } from './actions'
import { createReporter, type ProgressMode } from './progress'

export const DEFAULT_STORE = 'sqlite:./.arcflow/arcflow.db'

export interface Io {
  stdout: NodeJS.WritableStream & { isTTY?: boolean }
  stderr: NodeJS.WritableStream
}

export interface EngineFlags {
  store?: string
  durability?: string
  actions?: string[]
  allowShell?: boolean
}

/** An engine on `--store` (its folder made if needed) with every action registered. */
export async function openEngine(flags: EngineFlags): Promise<Engine> {
  const store = flags.store ?? DEFAULT_STORE
  const durability = flags.durability as Durability | undefined
  if (durability !== undefined && !['none', 'batched', 'sync'].includes(durability)) {
    throw new UsageError(`--durability must be none, batched or sync, got '${durability}'`)
  }
  if (store.startsWith('sqlite:')) mkdirSync(dirname(store.slice('sqlite:'.length)), { recursive: true })
  const engine = new Engine({ store, ...(durability ? { durability } : {}) })
  try {
    await registerActions(engine, flags.actions ?? [], flags.allowShell ?? false)
  } catch (error) {
    await engine.close()
    throw error
  }
  return engine
}

/** Loads a workflow file; an invalid one is a usage error listing every problem. */
export function loadFile(engine: Engine, file: string, allowShell: boolean): WorkflowDefinition {
  try {
    return engine.load(file)
  } catch (error) {
    if (error instanceof WorkflowError) {
      const lines = error.problems.map((p) => {
        const shell = !allowShell && /'shell\.exec'/.test(p.message) ? ' (shell.exec is off: pass --allow-shell)' : ''
        return `  ${describeProblem(p)}${shell}`
      })
      throw new UsageError(`${error.message.split('\n')[0]}\n${lines.join('\n')}`)
    }
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new UsageError(`no such file: ${file}`)
    throw error
  }
}

/** `--input '{"a":1}'` or `--input @file.json`. */
export function parseInput(text: string | undefined): unknown {
  if (text === undefined) return undefined
  let source = text
  if (text.startsWith('@')) {
    try {
      source = readFileSync(text.slice(1), 'utf8')
    } catch (error) {
      throw new UsageError(`cannot read --input file ${text.slice(1)}: ${(error as Error).message}`)
    }
  }
  try {
    return JSON.parse(source)
  } catch (error) {
    throw new UsageError(`--input is not JSON: ${(error as Error).message}`)
  }
}

export function progressMode(json: boolean | undefined, io: Io): ProgressMode {
  if (json) return 'json'
  return io.stdout.isTTY ? 'tty' : 'plain'
}

/** Watches `run` to its end; exit code 0 succeeded, 1 failed, 130 cancelled by Ctrl-C. Closes the engine. */
export async function watch(engine: Engine, run: Run, mode: ProgressMode, io: Io): Promise<number> {
  const reporter = createReporter(mode, io.stdout)
  let interrupted = false
  const onSigint = (): void => {
    if (interrupted) {
      // the second Ctrl-C: at once, without the exit-time flush (it may be what hangs)
      process.removeAllListeners('exit')
      process.exit(130)
    }
    interrupted = true
    io.stderr.write('\ncancelling the run (Ctrl-C again to exit at once)\n')
    void run.cancel()
  }
  process.on('SIGINT', onSigint)
  try {
    for await (const event of run.events()) reporter.event(event)
    try {
      const output = await run.result()
      reporter.end({ runId: run.id, status: 'succeeded', output })
      return 0
    } catch (error) {
      reporter.end({ runId: run.id, status: run.status, error: error as Error })
      return interrupted && error instanceof RunStoppedError ? 130 : 1
    }
  } finally {
    await engine.close() // everything the run wrote is on disk
    process.off('SIGINT', onSigint)
  }
}

export interface RunFlags extends EngineFlags {
  input?: string
  json?: boolean
  /** `run --account`: the account that pays for the run. */
  account?: string
}

export async function runCommand(file: string, flags: RunFlags, io: Io): Promise<number> {
  const engine = await openEngine(flags)
  let run: Run
  try {
    const workflow = loadFile(engine, file, flags.allowShell ?? false)
    run = engine.start(workflow, parseInput(flags.input), flags.account === undefined ? {} : { account: flags.account })
  } catch (error) {
    await engine.close()
    // bad input or an account the meter does not know: nothing ran, a usage error
    if (error instanceof InputError || error instanceof MeteringError) throw new UsageError(error.message)
    throw error
  }
  return watch(engine, run, progressMode(flags.json, io), io)
}

export async function resumeCommand(id: string, file: string, flags: RunFlags, io: Io): Promise<number> {
  const engine = await openEngine(flags)
  let run: Run
  try {
    loadFile(engine, file, flags.allowShell ?? false)
    run = engine.resume(id)
  } catch (error) {
    await engine.close()
    if (error instanceof ArcflowError && error.code === 'ARCFLOW_RESUME') throw new UsageError(error.message)
    throw error
  }
  return watch(engine, run, progressMode(flags.json, io), io)
}
