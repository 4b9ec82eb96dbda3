/**
 * `arcflow worker` and `arcflow enqueue`: a worker process over a store's
 * queues, and a producer that enqueues one run (optionally waiting for its
 * output, whichever process runs it).
 *
 * The worker shows claimed / running / done / lost leases per second: on a
 * terminal a status line redrawn in place (log-update, as `arcflow run`
 * does), elsewhere a plain line every few seconds when something changed.
 * Ctrl-C (or SIGTERM) stops claiming and waits for the runs in flight; a
 * second Ctrl-C releases them for another worker to take over at once.
 */
import { readdirSync, statSync } from 'node:fs'
import { extname, join } from 'node:path'
import { createLogUpdate } from 'log-update'

import { InputError } from '../engine/engine'
import { RunFailedError, RunStoppedError } from '../engine/run'
import { AbortedError, QueueError } from '../errors'
import type { Worker, WorkerStats } from '../queue/worker'
import { parseDuration } from '../workflow/duration'
import { loadFile, openEngine, parseInput, type EngineFlags, type Io } from './run-command'
import { UsageError } from './actions'

export interface WorkerFlags extends EngineFlags {
  workflows?: string[]
  queue?: string[]
  concurrency: number
  prefetch?: number
  lease?: string
}

export interface EnqueueFlags {
  store?: string
  input?: string
  key?: string
  queue?: string
  priority?: number
  delay?: string
  account?: string
  wait?: boolean
  timeout?: string
}

const WORKFLOW_FILES = new Set(['.yaml', '.yml', '.json'])

/** Workflow files named by `--workflows`: files as given, folders by their .yaml / .yml / .json files. */
export function workflowFiles(paths: string[]): string[] {
  const files: string[] = []
  for (const path of paths) {
    let isDir: boolean
    try {
      isDir = statSync(path).isDirectory()
    } catch {
      throw new UsageError(`no such file or folder: ${path}`)
    }
    if (!isDir) files.push(path)
    else for (const name of readdirSync(path).sort()) if (WORKFLOW_FILES.has(extname(name))) files.push(join(path, name))
  }
  return files
}

/** Runs a worker until Ctrl-C / SIGTERM; exit code 0 drained, 130 released. */
export async function workerCommand(flags: WorkerFlags, io: Io): Promise<number> {
  const engine = await openEngine(flags)
  let worker: Worker
  try {
    const names = workflowFiles(flags.workflows ?? []).map((file) => loadFile(engine, file, flags.allowShell ?? false).name)
    if (names.length === 0) throw new UsageError('a worker needs workflows: pass --workflows FILE_OR_FOLDER (repeatable)')
    worker = engine.work({ queues: flags.queue ?? ['default'], concurrency: flags.concurrency, prefetch: flags.prefetch ?? 0, ...(flags.lease ? { lease: flags.lease } : {}) })
    io.stderr.write(`arcflow worker ${worker.id}: queues ${(flags.queue ?? ['default']).join(', ')}, concurrency ${flags.concurrency}, workflows ${names.join(', ')}\n`)
  } catch (error) {
    await engine.close()
    if (error instanceof InputError) throw new UsageError(error.message)
    throw error
  }
  worker.on('error', (error: Error) => io.stderr.write(`arcflow worker: ${error.message}\n`))
  const status = new StatusLine(worker, io)
  let released = false
  let onStop = (): void => undefined
  const stopped = new Promise<void>((resolve) => {
    let stopping = false
    onStop = (): void => {
      if (stopping) {
        released = true
        io.stderr.write('\nreleasing the runs in flight for other workers\n')
        void worker.stop({ drain: false }).then(resolve)
        return
      }
      stopping = true
      io.stderr.write(`\nstopping: finishing ${worker.stats().running} runs in flight (Ctrl-C again to release them)\n`)
      void worker.stop({ drain: true }).then(resolve)
    }
  })
  // listeners of our own: arcflow's default signal handling then leaves the shutdown to us
  process.on('SIGINT', onStop)
  process.on('SIGTERM', onStop)
  await stopped
  process.off('SIGINT', onStop)
  process.off('SIGTERM', onStop)
  status.close()
  await engine.close()
  return released ? 130 : 0
}

/** The worker's counters per second, on a line. */
class StatusLine {
  readonly #worker: Worker
  readonly #io: Io
  readonly #timer: ReturnType<typeof setInterval>
  readonly #tty: ReturnType<typeof createLogUpdate> | undefined
  #last: WorkerStats
  #at = Date.now()
  #plainAt = 0

  constructor(worker: Worker, io: Io) {
    this.#worker = worker
    this.#io = io
    this.#last = worker.stats()
    this.#tty = io.stdout.isTTY ? createLogUpdate(io.stdout) : undefined
    this.#timer = setInterval(() => this.#tick(), 1_000)
  }

  #tick(final = false): void {
    const now = Date.now()
    const stats = this.#worker.stats()
    const secs = Math.max(0.001, (now - this.#at) / 1000)
    const rate = (key: 'claimed' | 'completed' | 'lostLeases'): string => ((stats[key] - this.#last[key]) / secs).toFixed(1)
    const line = `claimed ${rate('claimed')}/s · running ${stats.running} · done ${rate('completed')}/s · lost leases ${rate('lostLeases')}/s   (total: ${stats.claimed} claimed, ${stats.completed} done, ${stats.lostLeases} lost)`
    const changed = JSON.stringify(stats) !== JSON.stringify(this.#last)
    this.#last = stats
    this.#at = now
    if (this.#tty) this.#tty(line)
    // plain output: a line every 5 s while something happens, and the last one
    else if (final || (changed && now - this.#plainAt >= 5_000)) {
      this.#plainAt = now
      this.#io.stdout.write(`${line}\n`)
    }
  }

  close(): void {
    clearInterval(this.#timer)
    this.#tick(true)
    this.#tty?.done()
  }
}

/** Enqueues one run; with `--wait`, prints its output: exit 0 succeeded, 1 failed, 3 cancelled or timed out. */
export async function enqueueCommand(workflow: string, flags: EnqueueFlags, io: Io): Promise<number> {
  const engine = await openEngine({ store: flags.store })
  try {
    let answer
    try {
      answer = await engine.enqueue(workflow, parseInput(flags.input), {
        ...(flags.queue !== undefined ? { queue: flags.queue } : {}),
        ...(flags.key !== undefined ? { key: flags.key } : {}),
        ...(flags.priority !== undefined ? { priority: flags.priority } : {}),
        ...(flags.delay !== undefined ? { delay: flags.delay } : {}),
        ...(flags.account !== undefined ? { account: flags.account } : {}),
      })
    } catch (error) {
      if (error instanceof InputError) throw new UsageError(error.message)
      throw error
    }
    io.stderr.write(`${answer.created ? 'enqueued' : 'already enqueued (same key)'}: ${answer.id} (${answer.status})\n`)
    if (!flags.wait) {
      io.stdout.write(`${answer.id}\n`)
      return 0
    }
    let timeout: number | undefined
    if (flags.timeout !== undefined) {
      const ms = parseDuration(flags.timeout)
      if (typeof ms !== 'number') throw new UsageError(`--timeout: ${ms.problem}`)
      timeout = ms
    }
    try {
      const output = await engine.result(answer.id, timeout === undefined ? {} : { timeout })
      io.stdout.write(`${JSON.stringify(output ?? null)}\n`)
      return 0
    } catch (error) {
      if (error instanceof RunFailedError) {
        io.stderr.write(`${error.message}\n`)
        return 1
      }
      if (error instanceof RunStoppedError || error instanceof AbortedError || error instanceof QueueError) {
        io.stderr.write(`${error.message}\n`)
        return 3
      }
      throw error
    }
  } finally {
    await engine.close()
  }
}
