// What stops a child run (issue 14): the parent's own cancel or timeout
// reaches its children through the parent (a child of an attempt that only
// the run can abort gets no signal), the task's timeout and a sibling
// item's failure through the attempt's signal. Each case waits for the
// child's action to be in flight (an event), never for a time.
import test from 'ava'

import { Engine, type Action, type RunEvent } from '../lib/index'

/** An engine whose `child` workflow holds until aborted; `started()` resolves once `n` holds are in flight. */
function holding(): { engine: Engine; hold: Action; aborted: () => number; started: (n: number) => Promise<void>; childIds: string[] } {
  const engine = new Engine()
  let aborted = 0
  let inFlight = 0
  const waiters: Array<[number, () => void]> = []
  const hold: Action = (_input, ctx) => new Promise((resolve) => {
    ctx.signal.addEventListener('abort', () => { aborted++; resolve('aborted') }, { once: true })
    inFlight++
    for (const [n, go] of waiters) if (inFlight >= n) go()
  })
  engine.action('hold', hold)
  engine.action('fail', async () => { throw new Error('item failed') })
  engine.workflow({ name: 'child', tasks: { h: { action: 'hold' } } })
  const childIds: string[] = []
  engine.on('event', (e: RunEvent) => { if (e.type === 'task.child') childIds.push(e.childId) })
  const started = (n: number): Promise<void> => new Promise((resolve) => (inFlight >= n ? resolve() : waiters.push([n, resolve])))
  return { engine, hold, aborted: () => aborted, started, childIds }
}

/** Every run.* end event of `runId` in `events`. */
const endsOf = (events: RunEvent[], runId: string): string[] => events.filter((e) => e.runId === runId && /^run\.(succeeded|failed|cancelled|timed_out)$/.test(e.type)).map((e) => e.type)

test("the parent's run timeout cancels its child (no signal passed to it)", async (t) => {
  const { engine, aborted, started, childIds } = holding()
  const events: RunEvent[] = []
  engine.on('event', (e) => events.push(e))
  const parent = engine.workflow({ name: 'p', tasks: { sub: { workflow: 'child' } } })
  const run = engine.start(parent, undefined, { timeout: 3_600_000 })
  await started(1)
  // a second run whose deadline comes once its child is in flight (a start runs in microtasks, its timer later)
  const timedOut = engine.start(parent, undefined, { timeout: 1 })
  await t.throwsAsync(timedOut.result(), { name: 'RunStoppedError' })
  t.is(timedOut.status, 'timed_out')
  const child = childIds[1]!
  t.deepEqual(endsOf(events, child), ['run.cancelled'])
  t.is(aborted(), 1)
  t.is(run.status, 'running')
  await run.cancel()
  t.deepEqual(endsOf(events, childIds[0]!), ['run.cancelled'])
  t.is(aborted(), 2)
  t.is(engine.stats().liveRuns, 0)
  await engine.close()
})

test("aborting the parent's start signal cancels its child", async (t) => {
  const { engine, aborted, started, childIds } = holding()
  const events: RunEvent[] = []
  engine.on('event', (e) => events.push(e))
  const parent = engine.workflow({ name: 'p', tasks: { sub: { workflow: 'child' } } })
  const controller = new AbortController()
  const run = engine.start(parent, undefined, { signal: controller.signal })
  await started(1)
  controller.abort()
  await t.throwsAsync(run.result(), { name: 'RunStoppedError' })
  t.is(run.status, 'cancelled')
  t.deepEqual(endsOf(events, childIds[0]!), ['run.cancelled'])
  t.is(aborted(), 1)
  t.is(engine.stats().liveRuns, 0)
  await engine.close()
})

test("a workflow task's own timeout cancels its child and times the task out", async (t) => {
  const { engine, aborted, childIds } = holding()
  const events: RunEvent[] = []
  engine.on('event', (e) => events.push(e))
  const parent = engine.workflow({ name: 'p', tasks: { sub: { workflow: 'child', timeout: 20, next: [{ when: '{{ timed_out() }}', do: 'after' }] }, after: { action: 'fail' } } })
  const run = engine.start(parent)
  await t.throwsAsync(run.result(), { message: /item failed/ })
  t.true(events.some((e) => e.type === 'task.timed_out' && e.runId === run.id && e.task === 'sub'))
  t.deepEqual(endsOf(events, childIds[0]!), ['run.cancelled'])
  t.is(aborted(), 1)
  t.is(engine.stats().liveRuns, 0)
  await engine.close()
})

test("an item's child failing cancels its siblings' children", async (t) => {
  const { engine, hold, aborted, started, childIds } = holding()
  const events: RunEvent[] = []
  engine.on('event', (e) => events.push(e))
  // items 0 and 1 hold; item 2 fails once they are in flight
  engine.action('holdOrFail', (n: number, ctx) => (n < 2 ? hold(n, ctx) : started(2).then(() => { throw new Error('item 2 failed') })))
  engine.workflow({ name: 'either', tasks: { h: { action: 'holdOrFail', input: '{{ input }}' } } })
  const parent = engine.workflow({ name: 'p', tasks: { each: { workflow: 'either', with: { items: '{{ [0, 1, 2] }}', concurrency: 3 }, input: '{{ item }}' } } })
  const run = engine.start(parent)
  await t.throwsAsync(run.result(), { name: 'RunFailedError', message: /item 2 failed|did not succeed/ })
  t.is(aborted(), 2)
  t.is(engine.stats().liveRuns, 0)
  t.is(childIds.length, 3)
  t.deepEqual(childIds.map((id) => endsOf(events, id)[0]), ['run.cancelled', 'run.cancelled', 'run.failed'])
  await engine.close()
})
