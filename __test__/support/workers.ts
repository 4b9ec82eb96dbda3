// Worker processes for the queue tests (fixtures/queue/worker-child.mjs):
// spawned with a store and engine.work options, their JSON lines collected
// and waited for by predicate.
import { spawn, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import { createInterface } from 'node:readline'

const child = join(__dirname, '..', 'fixtures', 'queue', 'worker-child.mjs')

export type Line = Record<string, unknown>

/** How long a test waits for a line of a worker. */
const WAIT_MS = 60_000

export interface WorkerProcess {
  readonly process: ChildProcess
  readonly lines: Line[]
  /** Resolves with the first line (seen or to come) matching `match`; rejects if the process ends first. */
  waitFor(match: (line: Line) => boolean): Promise<Line>
  /** Resolves with the exit code. */
  exited: Promise<number | null>
  stderr(): string
}

const tail = (lines: Line[]): string => lines.slice(-12).map((l) => JSON.stringify(l)).join('\n')

/** How a child process is started besides its script and arguments. */
export interface ChildSetup {
  /** Node's own flags (`--require` a preload). */
  execArgv?: string[]
  /** Added to this process's environment. */
  env?: Record<string, string>
}

export function startWorker(store: string, options: Record<string, unknown>, setup: ChildSetup = {}): WorkerProcess {
  return startChild(child, [store, JSON.stringify(options)], setup)
}

/** A child process of `script` (a fixture printing JSON lines) with `args`. */
export function startChild(script: string, args: string[], setup: ChildSetup = {}): WorkerProcess {
  const proc = spawn(process.execPath, [...(setup.execArgv ?? []), script, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...setup.env } })
  const lines: Line[] = []
  const waiters: Array<{ match: (line: Line) => boolean; resolve: (line: Line) => void }> = []
  let err = ''
  proc.stderr!.on('data', (d: Buffer) => (err += d))
  const reader = createInterface({ input: proc.stdout! })
  // every line read, not only the process gone: a line may still be in the reader when 'close' comes
  const linesDone = new Promise<void>((resolve) => reader.on('close', resolve))
  reader.on('line', (text) => {
    let line: Line
    try {
      line = JSON.parse(text) as Line
    } catch {
      line = { text }
    }
    lines.push(line)
    for (const w of [...waiters]) {
      if (w.match(line)) {
        waiters.splice(waiters.indexOf(w), 1)
        w.resolve(line)
      }
    }
  })
  let ended = false
  const exited = new Promise<number | null>((resolve) => proc.on('close', (code) => {
    void linesDone.then(() => {
      ended = true
      resolve(code)
    })
  }))
  return {
    process: proc,
    lines,
    exited,
    stderr: () => err,
    waitFor(match) {
      const seen = lines.find(match)
      if (seen) return Promise.resolve(seen)
      return new Promise((resolve, reject) => {
        // a line that never comes fails the test with what did come, rather than hanging it
        const timer = setTimeout(() => reject(new Error(`no such line from the worker within ${WAIT_MS} ms; its last lines:\n${tail(lines)}\nstderr: ${err}`)), WAIT_MS)
        waiters.push({ match, resolve: (line) => {
          clearTimeout(timer)
          resolve(line)
        } })
        void exited.then(() => {
          if (ended && !lines.some(match)) reject(new Error(`the worker ended (code ${proc.exitCode}, signal ${proc.signalCode}, stderr: ${err}) before printing the line waited for; its last lines:\n${tail(lines)}`))
        })
      })
    },
  }
}

/** Stops a worker with SIGTERM (drain) or SIGUSR2 (release) and waits for it to exit. */
export async function stopWorker(worker: WorkerProcess, drain = true): Promise<Line> {
  // its stop handlers exist once it said `ready`: a signal before that would kill it mid-start
  await worker.waitFor((l) => 'ready' in l)
  worker.process.kill(drain ? 'SIGTERM' : 'SIGUSR2')
  const stats = await worker.waitFor((l) => 'stats' in l)
  await worker.exited
  return stats.stats as Line
}
