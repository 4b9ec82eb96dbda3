// Engines of one process on one store share it: one native store (the
// file opened once: one writer, one flush thread, one reader), one meter
// (one balance per account, reservations included) and one set of taken
// run ids, held by reference: the last engine's close closes it.
import test from 'ava'
import { execFile } from 'node:child_process'
import { mkdirSync, mkdtempSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { promisify } from 'node:util'

import { Engine, MeteringError, ResumeError, RunExistsError, RunFailedError } from '../lib/index'
import { SqliteStoreForTests } from './helpers/sqlite'

const dir = (): string => mkdtempSync(join(tmpdir(), 'arcflow-shared-'))
const dbPath = (): string => join(dir(), 'arcflow.db')

function metered(engine: Engine, ran: { n: number }) {
  engine.action('work', async (n: number) => {
    ran.n++
    await new Promise((resolve) => setTimeout(resolve, 2))
    return n
  }, { cost: 10 })
  return engine.workflow({ name: 'one', tasks: { t: { action: 'work', input: '{{ input }}' } }, output: '{{ tasks.t.result }}' })
}

async function readBack(path: string, account: string): Promise<{ balance: number; sum: number; charges: number; runs: Record<string, number> }> {
  const { stdout } = await promisify(execFile)(process.execPath, [join(__dirname, 'fixtures', 'shared-reader.mjs'), path, account])
  return JSON.parse(stdout) as { balance: number; sum: number; charges: number; runs: Record<string, number> }
}

test('two engines on one store overspend a shared account: 20 runs of cost 10 on 100 credits, split across both, run exactly 10 and end at 0', async (t) => {
  const path = dbPath()
  const ran = { n: 0 }
  const a = new Engine({ store: `sqlite:${path}`, handleSignals: false })
  const b = new Engine({ store: `sqlite:${path}`, handleSignals: false })
  const wfA = metered(a, ran)
  const wfB = metered(b, ran)
  a.credit('acme', 100, { key: 'opening' })
  await a.flush() // committed, so that separate meters would each read 100 (the bug: balance -50)
  const runs = Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? a.start(wfA, i, { account: 'acme' }) : b.start(wfB, i, { account: 'acme' })))
  const outcomes = await Promise.allSettled(runs.map((r) => r.result()))
  t.is(ran.n, 10, 'exactly as many tasks ran as the balance covers')
  t.is(outcomes.filter((o) => o.status === 'fulfilled').length, 10)
  t.true(outcomes.every((o) => o.status === 'fulfilled' || (o.reason instanceof RunFailedError && (o.reason.cause as { code?: string }).code === 'ARCFLOW_INSUFFICIENT_BALANCE')))
  t.is(a.balance('acme'), 0, 'one balance, never below 0')
  t.is(b.balance('acme'), 0, 'the other engine sees the same balance')
  const ledger = await b.ledger('acme', { limit: 1_000 })
  t.is(ledger.filter((e) => e.kind === 'charge').length, 10)
  t.is(ledger.reduce((sum, e) => sum + e.amount, 0), 0, '100 credited, 100 charged')
  t.is(a.stats().store!.batches, b.stats().store!.batches, 'one store: one flush thread')
  await a.close()
  await b.close()
  const db = new SqliteStoreForTests(path)
  t.is(db.value("SELECT balance FROM accounts WHERE id = 'acme'"), 0)
  t.is(db.value('SELECT SUM(amount) FROM ledger'), 0)
  db.close()
})

test("the first engine's close leaves the second working: its runs still commit, and the last close flushes everything for another process", async (t) => {
  const path = dbPath()
  const ran = { n: 0 }
  const a = new Engine({ store: `sqlite:${path}`, handleSignals: false })
  const b = new Engine({ store: `sqlite:${path}`, handleSignals: false, flushIntervalMs: undefined })
  const wfA = metered(a, ran)
  const wfB = metered(b, ran)
  a.credit('acme', 100, { key: 'opening' })
  t.is(await a.run(wfA, 1, { account: 'acme' }), 1)
  await a.close()
  t.false(b.stats().store!.closed, "the first close does not close the store under the other engine")
  t.is(b.balance('acme'), 90)
  const syncRun = b.start(wfB, 2, { account: 'acme', durability: 'sync' })
  t.is(await syncRun.result(), 2, 'a sync run still commits')
  const batched = Array.from({ length: 5 }, (_, i) => b.run(wfB, 10 + i, { account: 'acme' }))
  await Promise.all(batched)
  t.is(b.balance('acme'), 30)
  // no flush: the last close commits what is queued
  await b.close()
  t.deepEqual(await readBack(path, 'acme'), { balance: 30, sum: 30, charges: 7, runs: { succeeded: 7 } })
})

/** Two engines on one file, each with a `wait` action held until `release()`, and a one-task workflow of it. */
function twoEnginesOnAGate(path: string) {
  const a = new Engine({ store: `sqlite:${path}`, handleSignals: false })
  const b = new Engine({ store: `sqlite:${path}`, handleSignals: false })
  let release!: () => void
  const gate = new Promise<void>((resolve) => (release = resolve))
  for (const e of [a, b]) e.action('wait', () => gate)
  return { a, b, release, wf: { name: 'w', tasks: { t: { action: 'wait' } } } }
}

test('engines on one store share the taken run ids: a runId live in one engine is refused by the other', async (t) => {
  const path = dbPath()
  const { a, b, release, wf } = twoEnginesOnAGate(path)
  const run = a.start(a.workflow(wf), undefined, { runId: 'order-42' })
  t.throws(() => b.start(b.workflow(wf), undefined, { runId: 'order-42' }), { instanceOf: RunExistsError })
  release()
  await run.result()
  t.throws(() => b.start(b.workflow(wf), undefined, { runId: 'order-42' }), { instanceOf: RunExistsError })
  await a.close()
  await b.close()
})

test('one store by canonical path: a relative path, a symlinked directory and a new file all name the same store', async (t) => {
  const root = dir()
  mkdirSync(join(root, 'real'))
  symlinkSync(join(root, 'real'), join(root, 'link'))
  const ran = { n: 0 }
  const a = new Engine({ store: `sqlite:${join(root, 'real', 'a.db')}`, handleSignals: false })
  const b = new Engine({ store: `sqlite:${join(root, 'link', '.', 'a.db')}`, handleSignals: false })
  const wfA = metered(a, ran)
  metered(b, ran)
  a.credit('acme', 10, { key: 'opening' })
  t.is(b.balance('acme'), 10, 'a credit through one engine is the other engine\'s balance at once')
  const first = a.start(wfA, 1, { account: 'acme' })
  t.false(b.credit('acme', 5, { key: 'opening' }).applied, 'a credit key used through one engine is used for both')
  await first.result()
  t.is(b.balance('acme'), 0)
  const c = new Engine({ store: `sqlite:${relative(process.cwd(), join(root, 'real', 'a.db'))}`, handleSignals: false })
  t.is(c.balance('acme'), 0, 'a relative path: the same store')
  await a.close()
  await b.close()
  await c.close()
})

test('one store by file, whatever the URL says of locking: the default and ?locking=exclusive name the same store, another mode is a TypeError', async (t) => {
  const path = dbPath()
  const a = new Engine({ store: `sqlite:${path}`, handleSignals: false })
  const b = new Engine({ store: `sqlite:${path}?locking=exclusive`, handleSignals: false })
  a.credit('acme', 10, { key: 'opening' })
  t.is(b.balance('acme'), 10, 'one store, one meter')
  t.throws(() => new Engine({ store: `sqlite:${path}?locking=shared`, handleSignals: false }), { instanceOf: TypeError, message: /locking=shared differs from locking=exclusive/ })
  await a.close()
  await b.close()
  // closed for good: it opens again in the other mode
  const c = new Engine({ store: `sqlite:${path}?locking=shared`, handleSignals: false })
  t.is(c.balance('acme'), 10)
  await c.close()
})

test('store options on a store another engine has open: omitted ones join it, a different one is a TypeError, and the same one is fine', async (t) => {
  const path = dbPath()
  const a = new Engine({ store: `sqlite:${path}`, flushIntervalMs: 20, batchSize: 500, handleSignals: false })
  t.throws(() => new Engine({ store: `sqlite:${path}`, flushIntervalMs: 30, handleSignals: false }), { instanceOf: TypeError, message: /flushIntervalMs 30 .*20/ })
  t.throws(() => new Engine({ store: `sqlite:${path}`, snapshotEvery: 7, handleSignals: false }), { instanceOf: TypeError, message: /snapshotEvery/ })
  const b = new Engine({ store: `sqlite:${path}`, flushIntervalMs: 20, handleSignals: false })
  const c = new Engine({ store: `sqlite:${path}`, handleSignals: false })
  await b.close()
  await c.close()
  t.false(a.stats().store!.closed, 'refused engines took no reference: the store is still open')
  await a.close()
  t.true(a.stats().store!.closed)
  // closed for good: a new engine opens it again, with its own options
  const d = new Engine({ store: `sqlite:${path}`, flushIntervalMs: 30, handleSignals: false })
  await d.close()
})

test('metering overdraft on a shared store: engines share one meter, so a different overdraft is a MeteringError', async (t) => {
  const path = dbPath()
  const a = new Engine({ store: `sqlite:${path}`, metering: { overdraft: 50 }, handleSignals: false })
  t.throws(() => new Engine({ store: `sqlite:${path}`, handleSignals: false }), { instanceOf: MeteringError, message: /overdraft/ })
  t.throws(() => new Engine({ store: `sqlite:${path}`, metering: { allowNegative: true }, handleSignals: false }), { instanceOf: MeteringError, message: /overdraft/ })
  const b = new Engine({ store: `sqlite:${path}`, metering: { overdraft: 50, cost: 3 }, handleSignals: false })
  await a.close()
  await b.close()
})

test('metering.leaseMs: checked (a MeteringError before anything opens), and one per shared store like the overdraft', async (t) => {
  const path = dbPath()
  for (const leaseMs of [99, 1.5, -1, 2 ** 31, Number.NaN, '500' as unknown as number]) {
    t.throws(() => new Engine({ store: `sqlite:${path}?locking=shared`, metering: { leaseMs }, handleSignals: false }), { instanceOf: MeteringError, message: /metering\.leaseMs must be a whole number of milliseconds from 100/ })
  }
  const a = new Engine({ store: `sqlite:${path}?locking=shared`, metering: { leaseMs: 5_000 }, handleSignals: false })
  t.throws(() => new Engine({ store: `sqlite:${path}?locking=shared`, handleSignals: false }), { instanceOf: MeteringError, message: /leaseMs 30000 differs from 5000/ })
  const b = new Engine({ store: `sqlite:${path}?locking=shared`, metering: { leaseMs: 5_000 }, handleSignals: false })
  a.credit('acme', 10, { key: 'k' })
  t.is(b.balance('acme'), 10, 'one meter')
  await a.close()
  await b.close()
})

test('the in-memory meter stays per engine', async (t) => {
  const a = new Engine()
  const b = new Engine()
  a.credit('acme', 10, { key: 'k' })
  t.throws(() => b.balance('acme'), { instanceOf: MeteringError })
  await a.close()
  await b.close()
})

test('a run live in one engine on a store is not interrupted for the other: interruptedRuns leaves it out and resume refuses it', async (t) => {
  const path = dbPath()
  const { a, b, release, wf } = twoEnginesOnAGate(path)
  b.workflow(wf)
  const run = a.start(a.workflow(wf), undefined, { durability: 'sync' })
  await a.flush()
  t.deepEqual(await b.interruptedRuns(), [])
  t.throws(() => b.resume(run.id), { instanceOf: ResumeError, message: /another engine/ })
  release()
  await run.result()
  await a.close()
  await b.close()
})
