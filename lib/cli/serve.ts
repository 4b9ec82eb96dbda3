/**
 * `arcflow serve`: the workflows of a folder (or files) on an engine over
 * the store, behind `arcflow/server`. Tokens come from `--tokens FILE`
 * and/or `ARCFLOW_TOKENS` (comma-separated). At start it resumes the runs a
 * stopped server left running; SIGTERM / SIGINT stop it gracefully (see
 * `createServer`'s `close`) and exit 0, runs in flight left to resume.
 * With `--queue NAME` it runs nothing itself: runs are enqueued for the
 * workers (`arcflow work`), and nothing is resumed here.
 */
import { mkdirSync, readdirSync, statSync } from 'node:fs'
import { dirname, join } from 'node:path'

import { Engine } from '../engine/engine'
import type { Durability } from '../engine/run'
import type { WorkflowDefinition } from '../workflow/model'
import { WorkflowError } from '../errors'
import { describeProblem } from '../workflow/load'
import { parseTokenList, readTokenFile } from '../server/auth'
import { createServer } from '../server/server'
import { registerActions, UsageError } from './actions'
import { DEFAULT_STORE, type Io } from './run-command'

export interface ServeFlags {
  workflows: string[]
  actions?: string[]
  store?: string
  durability?: Durability
  port: number
  host: string
  tokens?: string
  auth: boolean
  shutdownGrace: number
  allowShell?: boolean
  /** In front of workers: runs are enqueued here (see `server/queued.ts`). */
  queue?: string
}

/** The workflow files of `--workflows` (a folder's .yaml, .yml and .json files, or files). */
function workflowFiles(paths: string[]): string[] {
  const files: string[] = []
  for (const p of paths) {
    let stat
    try {
      stat = statSync(p)
    } catch {
      throw new UsageError(`no such file or folder: ${p}`)
    }
    if (stat.isDirectory()) files.push(...readdirSync(p).filter((f) => /\.(ya?ml|json)$/.test(f)).sort().map((f) => join(p, f)))
    else files.push(p)
  }
  if (files.length === 0) throw new UsageError(`no workflow file in ${paths.join(', ')}`)
  return files
}

export async function serveCommand(flags: ServeFlags, io: Io, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const tokens = [...(flags.tokens ? readTokenFile(flags.tokens) : []), ...parseTokenList(env.ARCFLOW_TOKENS)]
  if (flags.auth && tokens.length === 0) throw new UsageError('no bearer token: pass --tokens FILE or set ARCFLOW_TOKENS (or --no-auth, on a loopback address only)')
  const store = flags.store ?? DEFAULT_STORE
  if (store.startsWith('sqlite:')) mkdirSync(dirname(store.slice('sqlite:'.length).split('?')[0]!), { recursive: true })
  // the server owns SIGTERM: it drains, flushes, exits 0 (the engine's own handler would exit 143)
  const engine = new Engine({ store, handleSignals: false, ...(flags.durability ? { durability: flags.durability } : {}) })
  await registerActions(engine, flags.actions ?? [], flags.allowShell ?? false)
  const workflows: WorkflowDefinition[] = []
  for (const file of workflowFiles(flags.workflows)) {
    try {
      workflows.push(engine.load(file))
    } catch (error) {
      if (error instanceof WorkflowError) throw new UsageError(`${file}:\n${error.problems.map((p) => `  ${describeProblem(p)}`).join('\n')}`)
      throw error
    }
  }
  let server
  try {
    server = createServer({ engine, workflows, tokens, auth: flags.auth, host: flags.host, port: flags.port, shutdownGraceMs: flags.shutdownGrace, ...(flags.queue !== undefined ? { queue: flags.queue } : {}) })
  } catch (error) {
    throw new UsageError((error as Error).message)
  }
  const resumed = await server.handler.resumeInterrupted()
  const { url } = await server.listen()
  io.stderr.write(`arcflow serve: ${workflows.length} workflows (${workflows.map((w) => w.name).join(', ')}), ${resumed} runs resumed, listening on ${url}\n`)
  return new Promise<number>((resolve) => {
    const stop = (signal: string): void => {
      io.stderr.write(`arcflow serve: ${signal}, shutting down\n`)
      process.off('SIGTERM', onTerm)
      process.off('SIGINT', onInt)
      server.close().then(
        () => resolve(0),
        (error: unknown) => {
          io.stderr.write(`arcflow serve: shutdown failed: ${(error as Error).message}\n`)
          resolve(1)
        },
      )
    }
    const onTerm = (): void => stop('SIGTERM')
    const onInt = (): void => stop('SIGINT')
    process.on('SIGTERM', onTerm)
    process.on('SIGINT', onInt)
  })
}
