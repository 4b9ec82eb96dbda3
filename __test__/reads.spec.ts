// Reads never block the JavaScript thread (issue 11): what is in memory
// answers while ANOTHER PROCESS holds the SQLite write lock; what must come
// from the database waits off-thread for this process's queued writes, and
// an aborted signal gives such a read up. No timing assertions: the child
// releases the lock only when told, after the calls under test returned.
import test from 'ava'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { AbortedError, Engine } from '../lib/index'
import { holdWriteLock } from './helpers/lock-holder'

const dbPath = (): string => join(mkdtempSync(join(tmpdir(), 'arcflow-reads-')), 'arcflow.db')

/** `promise`, or a clear failure after `ms` (a bounded wait, not a timing assertion). */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms)))
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void
  const wait = new Promise<void>((resolve) => (open = resolve))
  return { wait, open }
}

/** Accounts `known` and `fresh` on disk, credited by an engine that is gone. */
async function seeded(path: string): Promise<void> {
  const seed = new Engine({ store: `sqlite:${path}` })
  seed.credit('known', 100, { key: 'k' })
  seed.credit('fresh', 100, { key: 'f' })
  await seed.close()
}

test('another process holding the write lock blocks neither a metered start (known or unknown account) nor getRun of a live run; getRun of an ended run answers after the release, right; metered runs run once credit can be leased', async (t) => {
  const path = dbPath()
  await seeded(path)
  const engine = new Engine({ store: `sqlite:${path}?locking=shared`, metering: { cost: 1 } }) // beside the lock holder's process
  const held = gate()
  engine.action('hold', async () => held.wait.then(() => 'held'))
  engine.action('quick', async (n: number) => n * 2)
  const holdWf = engine.workflow({ name: 'hold', tasks: { h: { action: 'hold' } }, output: '{{ tasks.h.result }}' })
  const quickWf = engine.workflow({ name: 'quick', tasks: { q: { action: 'quick', input: '{{ input }}' } }, output: '{{ tasks.q.result }}' })
  t.is(engine.balance('known'), 100, 'the meter knows `known` before the lock')

  const lock = await holdWriteLock(t, path)
  const waits = (): number => engine.stats().store!.blockingWaits
  const waitsBefore = waits()
  // each of these returns while the lock is held: the child only releases when told below
  const onKnown = engine.start(holdWf, undefined, { account: 'known' })
  const onFresh = engine.start(holdWf, undefined, { account: 'fresh' })
  t.is(engine.balance('fresh'), 99, '`fresh` was read without waiting for the lock, and its first attempt reserved')
  const live = await within(engine.getRun(onKnown.id), 20_000, 'getRun of a live run')
  t.like(live, { id: onKnown.id, status: 'running', live: true })
  // a metered run needs a lease of `known`'s credit, which only the lock's release lets the database grant
  const metered = engine.start(quickWf, 5, { account: 'known' })
  let meteredDone = false
  const meteredResult = metered.result().then((r) => ((meteredDone = true), r))
  // a run that ends while the lock is held (not metered: nothing to lease): its rows can only be queued
  const ended = engine.start(quickWf, 21)
  t.is(await within(ended.result(), 20_000, 'a run while the lock is held'), 42)
  t.false(meteredDone, 'the metered run waits for its lease')
  t.true(engine.stats().store!.queueDepth > 0, 'its writes wait in the queue for the lock')
  t.false(lock.released(), 'everything above returned while the other process held the lock')
  t.is(waits(), waitsBefore, 'and none of it waited on this thread for queued writes (an operation count, not a timing)')

  const afterRelease = engine.getRun(ended.id).then((info) => ({ info, released: lock.released() }))
  await lock.release()
  const { info, released } = await within(afterRelease, 20_000, 'getRun of an ended run')
  t.true(released, 'the read of the ended run waited for this process’s queued writes')
  t.like(info, { id: ended.id, status: 'succeeded', output: 42, live: false })
  t.deepEqual(info!.tasks.map((x) => `${x.task}/${x.status}`), ['q/succeeded'])

  t.is(await within(meteredResult, 20_000, 'the metered run after the release'), 10)
  held.open()
  t.deepEqual(await Promise.all([onKnown.result(), onFresh.result()]), ['held', 'held'])
  t.is(engine.balance('known'), 98)
  t.like(engine.stats().credit, { blocking: 0 }, 'no reservation asked the database on this thread')
  t.is(engine.balance('fresh'), 99)
  await engine.close()
})

test('an aborted signal rejects a pending read with an AbortError, and leaves nothing behind', async (t) => {
  const path = dbPath()
  await seeded(path)
  const engine = new Engine({ store: `sqlite:${path}?locking=shared`, metering: { cost: 1 } }) // beside the lock holder's process
  engine.action('quick', async (n: number) => n + 1)
  const wf = engine.workflow({ name: 'quick', tasks: { q: { action: 'quick', input: '{{ input }}' } }, output: '{{ tasks.q.result }}' })

  const lock = await holdWriteLock(t, path)
  // metered: starts (no throw), and waits for a lease the lock defers
  const metered = engine.start(wf, 10, { account: 'known' })
  // not metered: ends while the lock is held, its rows queued
  const run = engine.start(wf, 1)
  t.is(await within(run.result(), 20_000, 'a run while the lock is held'), 2)
  // these reads wait (off-thread) for the run's queued writes, which cannot commit yet
  const controller = new AbortController()
  const reads = [
    engine.getRun(run.id, { signal: controller.signal }),
    engine.runs({}, { signal: controller.signal }),
    engine.interruptedRuns({ signal: controller.signal }),
    engine.ledger('known', { signal: controller.signal }),
  ]
  controller.abort(new Error('the caller gave up'))
  for (const read of reads) {
    const error = await within(t.throwsAsync(read, { instanceOf: AbortedError }), 20_000, 'an aborted read')
    t.is(error?.name, 'AbortError')
    t.is(error?.code, 'ARCFLOW_ABORTED')
    t.is((error?.cause as Error | undefined)?.message, 'the caller gave up')
  }
  t.false(lock.released(), 'the reads were given up while the writes they waited for could not commit')
  // a signal aborted before the call rejects at once, even for a live run
  await t.throwsAsync(engine.getRun(run.id, { signal: AbortSignal.abort() }), { instanceOf: AbortedError })

  await lock.release()
  // nothing stayed behind: the reader answers, the store closes
  t.like(await within(engine.getRun(run.id), 20_000, 'a read after the aborted ones'), { status: 'succeeded', output: 2 })
  t.is(await within(metered.result(), 20_000, 'the metered run after the release'), 11)
  t.deepEqual((await engine.ledger('known')).map((e) => e.kind), ['charge', 'credit'])
  await within(engine.close(), 20_000, 'close after aborted reads')
})
