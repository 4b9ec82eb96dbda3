// A failing store, for real: the database on a small tmpfs that is filled
// up (disk full), or its files made immutable (read-only even for root),
// while runs write to it. Writes are
// retried, runs wait once the queue is full (memory stays bounded), and
// everything lands when the fault clears.
import test from 'ava'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, unlinkSync, writeSync, openSync, closeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { Engine, type Logger } from '../lib/index'

/**
 * A fresh 64 MiB tmpfs for one test; unmounted (lazily: a failed test may
 * leave files open) when it ends. Room for the whole scenario once the
 * filler is gone: the 401 runs take 10-17 MB of database and WAL, more when
 * a loaded machine commits a task's running row and its end in separate
 * batches (with 16 MiB the disk stayed full after the fault cleared).
 */
function tmpfs(): { dir: string; unmount: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'arcflow-fault-'))
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64m', 'tmpfs', dir])
  return {
    dir,
    unmount: () => {
      execFileSync('umount', ['-l', dir])
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** Fills the filesystem at `dir` up; returns the filler file's path. */
function fillUp(dir: string): string {
  const path = join(dir, 'filler')
  const fd = openSync(path, 'w')
  const chunk = Buffer.alloc(64 * 1024, 1)
  try {
    for (;;) writeSync(fd, chunk)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error
  } finally {
    closeSync(fd)
  }
  return path
}

function recorder(): Logger & { lines: string[] } {
  const lines: string[] = []
  const log = (m: string): number => lines.push(m)
  return { lines, debug: () => {}, info: log, warn: log, error: log }
}

function chain(engine: Engine) {
  const tasks: Record<string, unknown> = {}
  for (let i = 0; i < 10; i++) tasks[`t${i}`] = { action: 'pad', input: i === 0 ? '{{ input }}' : `{{ tasks.t${i - 1}.result }}`, ...(i < 9 ? { next: { do: `t${i + 1}` } } : {}) }
  return engine.workflow({ name: 'chain', tasks, output: '{{ tasks.t9.result | length }}' })
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Runs 400 ten-task runs (about 1 KB written per task) while `fault` holds,
 * watches the queue stay bounded with runs waiting, clears the fault, and
 * checks that every write landed.
 */
async function underFault(t: import('ava').ExecutionContext, place: () => { dir: string; unmount: () => void }, fault: (dir: string) => () => void): Promise<void> {
  const { dir, unmount } = place()
  let clear: (() => void) | undefined
  try {
    await faultScenario(t, dir, (d) => (clear = fault(d)), () => {
      clear!()
      clear = undefined
    })
  } finally {
    clear?.()
    unmount()
  }
}

async function faultScenario(t: import('ava').ExecutionContext, dir: string, inject: (dir: string) => void, clear: () => void): Promise<void> {
  const logger = recorder()
  const queueCapacity = 2_000
  const engine = new Engine({ store: `sqlite:${join(dir, 'arcflow.db')}`, flushIntervalMs: 10, batchSize: 500, queueCapacity, logger })
  engine.action('pad', async (s: string) => `${s}${'x'.repeat(100)}`.slice(-1000))
  const wf = chain(engine)
  await engine.run(wf, 'warm') // the schema and first pages are on disk
  inject(dir)
  const runs = Array.from({ length: 400 }, () => engine.start(wf, 'go'))
  const done = Promise.all(runs.map((run) => run.result()))
  // the fault holds: the store fails and retries, the queue fills, runs wait
  let maxDepth = 0
  for (let i = 0; i < 40; i++) {
    await sleep(25)
    maxDepth = Math.max(maxDepth, engine.stats().store!.queueDepth)
  }
  const during = engine.stats()
  t.truthy(during.store!.failing, 'the store reports its failure')
  t.true(during.store!.retries > 0)
  t.true(during.liveRuns > 0, 'runs wait for the store instead of finishing')
  t.true(maxDepth >= queueCapacity, `the queue filled up (${maxDepth})`)
  // bounded: capacity plus at most the writes of one native call per live run
  t.true(maxDepth <= queueCapacity + 400 * 4, `the queue stayed bounded (${maxDepth})`)
  clear()
  t.deepEqual(await done, runs.map(() => 1000))
  await engine.flush()
  const after = engine.stats().store!
  t.is(after.failing, null)
  t.is(after.committed, after.enqueued, 'every write landed')
  t.true(logger.lines.includes('arcflow store: a batch failed, retrying'))
  t.true(logger.lines.includes('arcflow store recovered'))
  await engine.close()
  const reader = new Engine({ store: `sqlite:${join(dir, 'arcflow.db')}` })
  t.is((await reader.runs({ status: 'succeeded', limit: 1_000 })).length, 401)
  for (const run of [runs[0]!, runs[399]!]) t.is((await reader.getRun(run.id))!.tasks.filter((x) => x.status === 'succeeded').length, 10)
  await reader.close()
}

test.serial('disk full: writes are retried, runs wait with the queue bounded, and everything lands once space is freed', (t) =>
  underFault(t, tmpfs, (dir) => {
    const filler = fillUp(dir)
    return () => unlinkSync(filler)
  }))

/** A plain temporary directory (the immutable flag needs a filesystem that has it). */
function plainDir(): { dir: string; unmount: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'arcflow-fault-'))
  return { dir, unmount: () => rmSync(dir, { recursive: true, force: true }) }
}

test.serial('database files made read-only (immutable): writes are retried and land once they are writable again', (t) =>
  underFault(t, plainDir, (dir) => {
    // even root cannot write an immutable file, through descriptors already open too
    const files = ['arcflow.db', 'arcflow.db-wal'].map((f) => join(dir, f))
    execFileSync('chattr', ['+i', ...files])
    return () => execFileSync('chattr', ['-i', ...files])
  }))
