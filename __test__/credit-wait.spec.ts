// A metered start on a store other processes share, while ANOTHER PROCESS
// holds the SQLite write lock (so no lease can be granted): the start
// neither throws nor blocks the JavaScript thread; its attempt waits for
// the lease off-thread (the meter's credit thread asks again while the
// database is locked), and runs once the lock is released, billed right.
// Only a database that answers "not enough credit" refuses it. Nothing
// polls: the credit thread tells JavaScript when a reservation settles, and
// each is looked at once (counted). Counts and states, no timing
// assertions: the child releases the lock only when told.
import test from 'ava'
import { spawnSync } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { listenedMeters } from '../lib/engine/credit-wait'
import { Engine, InsufficientBalanceError, RunFailedError } from '../lib/index'
import { holdWriteLock } from './helpers/lock-holder'

const dbPath = (): string => join(mkdtempSync(join(tmpdir(), 'arcflow-credit-wait-')), 'arcflow.db')

/** `promise`, or a clear failure after `ms` (a bounded wait, not a timing assertion). */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms)))
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

test('a metered start under another process’s write lock neither throws nor blocks; it runs once the lock is released, billed right; only the database refuses', async (t) => {
  const path = dbPath()
  const seed = new Engine({ store: `sqlite:${path}` })
  seed.credit('acme', 100, { key: 'a' })
  seed.credit('poor', 2, { key: 'p' })
  await seed.close()

  const engine = new Engine({ store: `sqlite:${path}?locking=shared`, metering: {} })
  let ran = 0
  engine.action('work', async () => (ran++, 1), { cost: 3 }) // not ++ran: which waiting run gets its lease first is not ordered
  engine.action('priced', async (n: number) => (ran++, n), { cost: (n) => n as number })
  const work = engine.workflow({ name: 'work', tasks: { w: { action: 'work' } }, output: '{{ tasks.w.result }}' })
  const priced = engine.workflow({ name: 'priced', tasks: { p: { action: 'priced', input: '{{ input }}' } }, output: '{{ tasks.p.result }}' })
  t.is(engine.balance('acme'), 100, 'known before the lock')

  const lock = await holdWriteLock(t, path)
  // none of these throws, though no lease can be granted now
  const fixed = engine.start(work, undefined, { account: 'acme' })
  const byFunction = engine.start(priced, 7, { account: 'acme' })
  const refused = engine.start(work, undefined, { account: 'poor' })
  // the JavaScript thread turns while they wait: timers fire, reads of live runs answer
  let turns = 0
  for (let i = 0; i < 20; i++) await new Promise<void>((resolve) => setTimeout(() => (turns++, resolve()), 10))
  t.is(turns, 20)
  t.is(engine.balance('acme'), 90, 'both reservations are taken while they wait (3 + 7)')
  t.like(await within(engine.getRun(fixed.id), 20_000, 'getRun of a waiting run'), { status: 'running', live: true })
  t.is(ran, 0, 'no attempt ran without its lease')
  t.false(lock.released())
  const waiting = engine.stats().credit!
  t.is(waiting.blocking, 0, 'no lease call on the JavaScript thread')
  t.true(waiting.waits >= 3, `${waiting.waits} reservations wait for a lease`)
  t.is(waiting.grants, 0, 'nothing could be leased under the lock')
  t.is(waiting.looks, 0, 'nothing looked at the waiting reservations while none settled (no poll)')

  await lock.release()
  t.is(await within(fixed.result(), 20_000, 'the fixed-cost run after the release'), 1)
  t.is(await within(byFunction.result(), 20_000, 'the cost-function run after the release'), 7)
  const error = await within(t.throwsAsync(refused.result(), { instanceOf: RunFailedError }), 20_000, 'the refused run')
  t.true(error?.cause instanceof InsufficientBalanceError, 'the database could not cover 3 of 2')
  t.is(ran, 2, 'the refused attempt never ran')
  t.is(engine.balance('acme'), 90)
  t.is(engine.balance('poor'), 2, 'the refused reservation went back')
  const after = engine.stats().credit!
  t.is(after.blocking, 0)
  t.true(after.grants >= 1 && after.refused >= 1, `${after.grants} grants, ${after.refused} refused`)
  // told by the credit thread: each waiting reservation was looked at once, when it settled
  t.is(after.looks, after.waits, `${after.looks} looks for ${after.waits} waiting reservations`)
  t.true(after.wakeups >= 1 && after.wakeups <= after.waits, `${after.wakeups} wake-ups`)
  const listened = listenedMeters()
  t.true(listened >= 1, 'the waits listened to the meter')
  await engine.close()
  t.is(listenedMeters(), listened - 1, 'closing the meter forgot its listener (no entry per closed meter)')

  // what the database says, with the leases given back at close
  const check = new Engine({ store: `sqlite:${path}` })
  t.is(check.balance('acme'), 90)
  t.is(check.balance('poor'), 2)
  t.deepEqual((await check.ledger('acme')).map((e) => e.amount).sort((a, b) => a - b), [-7, -3, 100])
  await check.close()
})

test('a process whose only work is a run waiting for credit stays alive until the reservation settles (the wake is held while it waits), then exits by itself', async (t) => {
  const path = dbPath()
  const seed = new Engine({ store: `sqlite:${path}` })
  seed.credit('acme', 10, { key: 'a' })
  await seed.close()
  // the child holds the write lock itself and lets go on an unref'd timer: only the wait can keep it alive
  const child = spawnSync(process.execPath, [join(__dirname, 'fixtures', 'credit-alive-child.mjs'), path], { encoding: 'utf8', timeout: 60_000 })
  t.is(child.status, 0, `exit ${child.status} (13: it exited with the run still waiting): ${child.stderr}`)
  t.deepEqual(JSON.parse(child.stdout), { output: 'paid', waits: 1 }, 'the run waited for its lease, then ran')
})
