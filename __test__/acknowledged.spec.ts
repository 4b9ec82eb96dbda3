// In `sync`, nothing is acknowledged before the store has it (issue 17.5,
// 17.6): another process holds the database's write lock, so commits wait;
// what the caller hears (a result, a status, an item's event) must wait too,
// and when it comes the database already says it. No timing assertions: the
// lock is released only after the checks that nothing was reported.
import test from 'ava'
import Database from 'better-sqlite3'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'

import { Engine, RunStoppedError, type RunEvent } from '../lib/index'

const fixtures = join(__dirname, 'fixtures')
const dbPath = (): string => join(mkdtempSync(join(tmpdir(), 'arcflow-ack-')), 'arcflow.db')

/** Another process takes the write lock and holds it until `release()`. */
async function holdWriteLock(path: string): Promise<() => Promise<void>> {
  const holder: ChildProcess = spawn(process.execPath, [join(fixtures, 'lock-holder.cjs'), path], { stdio: ['pipe', 'pipe', 'inherit'] })
  await new Promise<void>((resolve) => createInterface({ input: holder.stdout! }).once('line', () => resolve()))
  return async () => {
    const exited = new Promise((resolve) => holder.once('exit', resolve))
    holder.stdin!.end()
    await exited
  }
}

/** What the database says now (another connection, read-only). */
function onDisk(path: string, sql: string, ...args: unknown[]): unknown {
  const db = new Database(path, { readonly: true })
  try {
    return db.prepare(sql).get(...args)
  } finally {
    db.close()
  }
}

/** A few turns of the event loop and timers: long enough for an early report to show. */
const turns = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 300))

async function syncEngine(path: string): Promise<Engine> {
  // shared: the lock holder is another process on the file
  const engine = new Engine({ store: `sqlite:${path}?locking=shared`, durability: 'sync' })
  engine.action('noop', async () => 0)
  await engine.run(engine.workflow({ name: 'init', tasks: { t: { action: 'noop' } } })) // the database exists, in WAL mode
  return engine
}

test('a cancel while a sync completion waits for its commit does not resolve result() with the uncommitted output', async (t) => {
  const path = dbPath()
  const engine = await syncEngine(path)
  let returned!: () => void
  const actionReturned = new Promise<void>((resolve) => (returned = resolve))
  engine.action('charge', async () => {
    setImmediate(returned)
    return 'receipt-1'
  })
  const release = await holdWriteLock(path)
  const run = engine.start(engine.workflow({ name: 'pay', tasks: { t: { action: 'charge' } }, output: '{{ tasks.t.result }}' }))
  let settled = false
  let statusOnDiskWhenResolved: unknown
  const result = run.result().then((output) => {
    settled = true
    statusOnDiskWhenResolved = onDisk(path, 'SELECT status, output FROM runs WHERE id = ?', run.id)
    return output
  })
  await actionReturned
  const cancelled = run.cancel()
  await turns()
  t.false(settled, 'result() waits for the commit: the store does not have the output yet')
  t.is(run.status, 'running')
  await release()
  t.is(await result, 'receipt-1')
  await cancelled
  t.is(run.status, 'succeeded')
  t.deepEqual(statusOnDiskWhenResolved, { status: 'succeeded', output: '"receipt-1"' })
  await engine.close()
})

test('a sync run cancelled while a task completion waits for its commit is reported cancelled only once the store has it', async (t) => {
  const path = dbPath()
  const engine = await syncEngine(path)
  let returned!: () => void
  const actionReturned = new Promise<void>((resolve) => (returned = resolve))
  engine.action('first', async () => {
    setImmediate(returned)
    return 1
  })
  const wf = engine.workflow({ name: 'two', tasks: { a: { action: 'first', next: { do: 'b' } }, b: { action: 'noop' } } })
  const release = await holdWriteLock(path)
  const run = engine.start(wf, undefined, { timeout: 50 })
  let statusOnDiskWhenRejected: unknown
  const result = run.result().catch((error: unknown) => {
    statusOnDiskWhenRejected = onDisk(path, 'SELECT status FROM runs WHERE id = ?', run.id)
    throw error
  })
  let settled = false
  void result.catch(() => (settled = true))
  await actionReturned
  await turns() // the run's timeout has passed
  t.false(settled, 'the timeout is not reported before its end is committed')
  t.is(run.status, 'running')
  await release()
  const error = await t.throwsAsync(result, { instanceOf: RunStoppedError })
  t.is(error?.code, 'ARCFLOW_RUN_TIMED_OUT')
  t.deepEqual(statusOnDiskWhenRejected, { status: 'timed_out' })
  await engine.close()
})

test('item.completed fires only after the item is committed in sync', async (t) => {
  const path = dbPath()
  const engine = await syncEngine(path)
  const completed: RunEvent[] = []
  engine.on('event', (event) => {
    if (event.type === 'item.completed') completed.push(event)
  })
  let returned = 0
  let allReturned!: () => void
  const allDone = new Promise<void>((resolve) => (allReturned = resolve))
  engine.action('email', async (n: number) => {
    if (++returned === 3) setImmediate(allReturned)
    return `sent-${n}`
  })
  const wf = engine.workflow({ name: 'mail', tasks: { send: { action: 'email', with: { items: [1, 2, 3] }, input: '{{ item }}' } }, output: '{{ tasks.send.result }}' })
  const release = await holdWriteLock(path)
  const committedBefore = engine.stats().store!.committed
  const run = engine.start(wf)
  await allDone
  await turns()
  t.is(engine.stats().store!.committed, committedBefore, 'nothing could commit')
  t.is(completed.length, 0, 'no item is acknowledged before its commit')
  await release()
  t.deepEqual(await run.result(), ['sent-1', 'sent-2', 'sent-3'])
  t.is(completed.length, 3)
  t.is((onDisk(path, "SELECT count(*) AS n FROM executions WHERE run_id = ? AND item >= 0 AND status = 'succeeded'", run.id) as { n: number }).n, 3)
  await engine.close()
})
