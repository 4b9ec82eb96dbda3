// Resume after a real crash (kill -9 of a child running a durable run), on
// any store: the child's run loops, fans out over items and waits on a task
// that never ends; the parent resumes it and checks that nothing completed
// runs again and that the output is an uninterrupted run's. Run against
// SQLite by resume.spec.ts and PostgreSQL by postgres-resume.spec.ts.
import type { ExecutionContext } from 'ava'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { createInterface } from 'node:readline'

import { Engine, type TaskRecord } from '../../lib/index'
import { DurableStore, silentLogger } from '../../lib/store/store'
import { parseStoreUrl } from '../../lib/store/url'

// eslint-disable-next-line @typescript-eslint/no-require-imports
export const { registerActions } = require('../fixtures/resume-actions.cjs') as {
  registerActions(engine: Engine, options: { report: (line: string) => void; hang: boolean; hangItem?: number }): void
}

const fixtures = join(__dirname, '..', 'fixtures')
export const flowFile = join(fixtures, 'resume-flow.json')
const ITEMS = 200

interface Crash {
  runId: string
  execs: string[]
  ackedTasks: Set<string>
  ackedItems: Set<number>
}

/**
 * Runs the child until `minItems` items were acknowledged, `slow` is
 * running and what was enqueued by half of those items is committed (a
 * batched ack precedes its commit, and a first flush can lag), then kills
 * it -9.
 */
export function crashChild(store: string, durability: string, minItems: number): Promise<Crash> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(fixtures, 'resume-child.mjs'), store, durability, String(ITEMS)], { stdio: ['ignore', 'pipe', 'inherit'] })
    const crash: Crash = { runId: '', execs: [], ackedTasks: new Set(), ackedItems: new Set() }
    let killed = false
    // the queue's length once half the items were acknowledged, and the commits since
    let mark = Infinity
    let committed = 0
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`the child never got to ${minItems} items (${crash.ackedItems.size})`)) }, 60_000)
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (killed) return
      const [kind, a, b] = line.split(' ')
      if (kind === 'run') crash.runId = a!
      else if (kind === 'exec') crash.execs.push(line.slice(5))
      else if (kind === 'ack' && a === 'task') crash.ackedTasks.add(b!)
      else if (kind === 'ack' && a === 'item') crash.ackedItems.add(Number(b))
      else if (kind === 'store') {
        committed = Number(a)
        if (mark === Infinity && crash.ackedItems.size >= minItems / 2) mark = Number(b)
      }
      if (crash.ackedItems.size >= minItems && crash.execs.includes('slow 1') && committed >= mark) {
        killed = true
        child.kill('SIGKILL')
      }
    })
    child.on('exit', (_code, signal) => {
      clearTimeout(timer)
      if (signal !== 'SIGKILL') return reject(new Error(`the child exited by itself (${signal})`))
      resolve(crash)
    })
  })
}

/** The output of the same workflow run uninterrupted, in memory. */
export async function uninterruptedOutput(): Promise<unknown> {
  const engine = new Engine()
  registerActions(engine, { report: () => {}, hang: false })
  const output = await engine.run(engine.load(flowFile), { items: ITEMS })
  await engine.close()
  return output
}

/**
 * Crashes the child mid-run on `store` (a store URL), resumes the run in
 * this process and checks it against an uninterrupted run.
 */
export async function resumeAfterCrash(t: ExecutionContext, store: string, durability: 'sync' | 'batched') {
  const crash = await crashChild(store, durability, 60)
  const check = new DurableStore(parseStoreUrl(store)!, { flushIntervalMs: 50, batchSize: 100, queueCapacity: 100, logger: silentLogger })
  // SQLite's PRAGMA integrity_check; PostgreSQL has no such check (and needs none after a client's crash)
  if (store.startsWith('sqlite:')) t.is(check.integrityCheck(), 'ok')
  const before: TaskRecord[] = await check.tasks(crash.runId)
  await check.close()
  const doneItems = new Set(before.filter((x) => x.task === 'fan' && x.item !== undefined && x.status === 'succeeded').map((x) => x.item!))
  t.true(doneItems.size > 0, 'items were committed before the crash')
  t.true(doneItems.size < ITEMS, 'the crash came before the fan-out ended')

  const execs: string[] = []
  const engine = new Engine({ store, durability, snapshotEvery: 5 })
  registerActions(engine, { report: (line) => execs.push(line.slice(5)), hang: false })
  engine.load(flowFile)
  t.deepEqual((await engine.interruptedRuns()).map((r) => r.id), [crash.runId])
  const run = engine.resume(crash.runId)
  const output = await run.result()
  await engine.close()

  t.deepEqual(output, await uninterruptedOutput(), 'the same output as an uninterrupted run')
  t.deepEqual(output, { total: ITEMS * (ITEMS - 1) + 1200, loops: 12 })
  // nothing that had completed ran again: no loop, no committed item
  t.false(execs.some((e) => e.startsWith('loop')), `loops ran again: ${execs.filter((e) => e.startsWith('loop')).join(', ')}`)
  const rerunItems = execs.filter((e) => e.startsWith('fan')).map((e) => Number(e.split(' ')[1]))
  t.deepEqual(rerunItems.filter((i) => doneItems.has(i)), [], 'committed items ran again')
  t.is(new Set([...doneItems, ...rerunItems]).size, ITEMS, 'every item ran')
  if (durability === 'sync') {
    // every task the child saw acknowledged was on disk: none ran again
    for (const task of crash.ackedTasks) t.false(execs.some((e) => e.startsWith(task)), `acknowledged task ${task} ran again`)
  }
  // the attempt in flight was interrupted and retried under the task's policy
  t.true(execs.includes('slow 2'), `slow was retried: ${execs.filter((e) => e.startsWith('slow')).join(', ')}`)
  const reader = new Engine({ store })
  const info = (await reader.getRun(crash.runId))!
  t.like(info, { status: 'succeeded', output })
  const slow = info.tasks.filter((x) => x.task === 'slow')
  t.like(slow[0], { attempt: 1, status: 'retrying', error: { code: 'ARCFLOW_INTERRUPTED' } })
  t.like(slow[1], { attempt: 2, status: 'succeeded', result: 1200 })
  t.is(info.tasks.filter((x) => x.task === 'loop' && x.status === 'succeeded').length, 12)
  t.is(info.tasks.filter((x) => x.task === 'fan' && x.item !== undefined && x.status === 'succeeded').length, ITEMS)
  t.deepEqual(await reader.interruptedRuns(), [])
  await reader.close()
}
