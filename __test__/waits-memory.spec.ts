// 100,000 runs waiting at once (in memory, each with a timeout): the cost
// per waiting run, measured as heap and RSS growth over the count, and
// every deadline in the one shared heap (no timer per run).
import test from 'ava'

import { Engine } from '../lib/index'
import { deadlineCount } from '../lib/engine/deadlines'

const RUNS = 100_000
/** The documented bound (README, "Waiting runs"): heap bytes per waiting run. */
const HEAP_PER_RUN = 8 * 1024

test('100,000 runs wait at once within the documented cost per run, on one shared timer', async (t) => {
  const gc = (globalThis as { gc?: () => void }).gc
  const engine = new Engine()
  const wf = engine.workflow({ name: 'hold', tasks: { approve: { wait: { signal: 'go', timeout: '24h' } } }, output: '{{ tasks.approve.result }}' })
  gc?.()
  const heap0 = process.memoryUsage().heapUsed
  const rss0 = process.memoryUsage().rss
  const runs = []
  for (let i = 0; i < RUNS; i++) runs.push(engine.start(wf, {}))
  await new Promise((resolve) => setImmediate(resolve))
  await new Promise((resolve) => setTimeout(resolve, 10))
  t.is(runs.filter((r) => r.status === 'waiting').length, RUNS)
  t.is(deadlineCount(), RUNS)
  gc?.()
  const heapPerRun = (process.memoryUsage().heapUsed - heap0) / RUNS
  const rssPerRun = (process.memoryUsage().rss - rss0) / RUNS
  t.log(`per waiting run: ${Math.round(heapPerRun)} B heap, ${Math.round(rssPerRun)} B RSS (native state included)`)
  t.true(heapPerRun < HEAP_PER_RUN, `${heapPerRun} B heap per run`)
  t.true(rssPerRun < 4 * HEAP_PER_RUN, `${rssPerRun} B RSS per run`)
  // every one of them still goes on when signalled
  for (const run of runs) await run.signal('go', 1)
  t.deepEqual(new Set(await Promise.all(runs.map((r) => r.result()))), new Set([1]))
  t.is(deadlineCount(), 0)
  await engine.close()
})
