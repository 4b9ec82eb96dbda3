// The run's `waiting` status through the store, over any store URL
// (waits-status.spec.ts: SQLite, waits-postgres.spec.ts: PostgreSQL):
// written once everything in flight is parked, back to `running` when it
// goes on, listed by `runs({ status })`, never left behind once it ended.
import type { ExecutionContext } from 'ava'
import { setTimeout as sleep } from 'node:timers/promises'

import { Engine, type RunStatus } from '../../lib/index'
import { renderReport } from '../../lib/cli/report'
import { SETTLE_MS } from '../../lib/engine/waiting-mark'

/** Polls the store (committed reads) until `run` reads `status`: how many polls it took, or -1 after 200. */
async function storeSays(engine: Engine, id: string, status: RunStatus): Promise<number> {
  for (let i = 0; i < 200; i++) {
    if ((await engine.runs({ status })).some((r) => r.id === id)) return i
    await sleep(20)
  }
  return -1
}

/** A parked run is listed waiting, a busy one running, and back to running when the signal comes. */
export async function parkedIsWaiting(t: ExecutionContext, url: string): Promise<void> {
  const engine = new Engine({ store: url })
  let release!: () => void
  const gate = new Promise<void>((resolve) => (release = resolve))
  engine.action('slow', async () => {
    await gate
    return 1
  })
  const waits = engine.workflow({ name: 'parks', tasks: { w: { wait: { signal: 'go' }, next: [{ do: 'after' }] }, after: { action: 'slow' } } })
  const busy = engine.workflow({ name: 'busy', tasks: { s: { action: 'slow' } } })
  const parked = engine.start(waits, {})
  const working = engine.start(busy, {})
  t.not(await storeSays(engine, parked.id, 'waiting'), -1)
  t.deepEqual((await engine.runs({ status: 'running' })).map((r) => r.id), [working.id])
  t.is((await engine.getRun(parked.id))!.status, 'waiting')
  // the report draws the open wait
  t.regex(renderReport((await engine.getRun(parked.id))!), /class="bar waiting"/)
  await parked.signal('go', null)
  // its next task runs (held by the gate): running again in the store
  t.not(await storeSays(engine, parked.id, 'running'), -1)
  t.deepEqual((await engine.runs({ status: 'waiting' })).map((r) => r.id), [])
  release()
  await Promise.all([parked.result(), working.result()])
  t.is((await engine.getRun(parked.id))!.status, 'succeeded')
  await engine.close()
}

/** A signal storm ends succeeded with no waiting status left behind. */
export async function stormLeavesNoWaiting(t: ExecutionContext, url: string): Promise<void> {
  const engine = new Engine({ store: url })
  const n = 300
  engine.action('sum', (input: { xs: number[] }) => input.xs.length)
  const wf = engine.workflow({
    name: 'storm',
    tasks: {
      each: { wait: { signal: 'item-{{ index }}' }, with: { items: '{{ input.items }}' }, next: [{ do: 'sum' }] },
      sum: { action: 'sum', input: { xs: '{{ tasks.each.result }}' } },
    },
    output: '{{ tasks.sum.result }}',
  })
  const run = engine.start(wf, { items: Array.from({ length: n }, (_, i) => i) })
  t.not(await storeSays(engine, run.id, 'waiting'), -1)
  await Promise.all(Array.from({ length: n }, (_, i) => run.signal(`item-${i}`, i)))
  t.is(await run.result(), n)
  await engine.close()
  const again = new Engine({ store: url })
  t.is((await again.getRun(run.id))!.status, 'succeeded')
  t.deepEqual(await again.runs({ status: 'waiting' }), [])
  await again.close()
}

/**
 * Coalescing: a with-items wait taking its 300 signals one item at a time
 * flips the run between waiting and running about 600 times; the store is
 * written at most once per run per settle window (`SETTLE_MS`), counted
 * by `engine.stats().store.waitingWrites`.
 */
export async function stormCoalesced(t: ExecutionContext, url: string): Promise<void> {
  const engine = new Engine({ store: url })
  const n = 300
  engine.action('sum', (input: { xs: number[] }) => input.xs.length)
  const wf = engine.workflow({
    name: 'storm-one-by-one',
    tasks: {
      each: { wait: { signal: 'item-{{ index }}' }, with: { items: '{{ input.items }}', concurrency: 1 }, next: [{ do: 'sum' }] },
      sum: { action: 'sum', input: { xs: '{{ tasks.each.result }}' } },
    },
    output: '{{ tasks.sum.result }}',
  })
  const run = engine.start(wf, { items: Array.from({ length: n }, (_, i) => i) })
  t.not(await storeSays(engine, run.id, 'waiting'), -1)
  const before = engine.stats().store!.waitingWrites
  t.is(before, 1, 'parked once: written once')
  const began = performance.now()
  await Promise.all(Array.from({ length: n }, (_, i) => run.signal(`item-${i}`, i)))
  t.is(await run.result(), n)
  const windows = Math.ceil((performance.now() - began) / SETTLE_MS) + 1
  const writes = engine.stats().store!.waitingWrites - before
  const parks = run.history().filter((e) => e.type === 'task.waiting').length
  t.is(parks, n, 'every item parked in its turn')
  t.true(writes <= windows, `${writes} waiting writes in ${windows} settle windows`)
  t.true(writes * 10 <= parks, `${writes} waiting writes for ${parks} parks`)
  await engine.close()
}
