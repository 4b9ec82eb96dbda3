// The event loop's slow turns during a 100,000-item run were young-GC
// pauses copying and promoting what each item left alive: its two events,
// objects with a boxed `time`, about 190 bytes an item, kept for the whole
// run. They are kept as numbers now (lib/engine/item-events.ts). The heap
// is measured in this worker's own isolate after a full collection, at two
// items of one run: what it grew by between them is what the items keep.
import test from 'ava'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { getHeapStatistics, setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'

import { Engine, type RunEvent } from '../lib/index'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

const ITEMS = 20_000
const FROM = 2_000
// what is allocated for every item (the list, its results) is allocated before FROM; the rest is noise of a few hundred kB
const BOUND_BYTES_PER_ITEM = 64

function retained(): number {
  gc()
  gc()
  return getHeapStatistics().used_heap_size
}

async function measure(engine: Engine): Promise<{ perItem: number; events: RunEvent[] }> {
  let at = 0
  let heapFrom = 0
  let heapTo = 0
  engine.action('io', (n: number) => {
    // item FROM's and item ITEMS-1's action: their run's items before them have ended or are in flight
    if (n === FROM) heapFrom = retained()
    if (n === ITEMS - 1) heapTo = retained()
    at++
    return Promise.resolve(n + 1)
  })
  const fan = engine.workflow({ name: 'fan', tasks: { each: { action: 'io', with: { items: '{{ range(input) }}', concurrency: 64 }, input: '{{ item }}' } }, output: '{{ tasks.each.result | length }}' })
  const run = engine.start(fan, ITEMS)
  const output = await run.result()
  const events: RunEvent[] = []
  for await (const e of run.events()) events.push(e)
  await engine.close()
  if (output !== ITEMS || at !== ITEMS) throw new Error(`output ${String(output)} after ${at} actions`)
  return { perItem: (heapTo - heapFrom) / (ITEMS - 1 - FROM), events }
}

function checkEvents(t: import('ava').ExecutionContext, events: RunEvent[], runId: string | undefined): void {
  const started = events.filter((e) => e.type === 'item.started')
  const completed = events.filter((e) => e.type === 'item.completed')
  t.is(started.length, ITEMS)
  t.is(completed.length, ITEMS)
  t.deepEqual(Object.keys(started[7]!), ['type', 'runId', 'time', 'task', 'attempt', 'index'])
  t.deepEqual(Object.keys(completed[7]!), ['type', 'runId', 'time', 'task', 'attempt', 'index', 'status'])
  t.true(completed.every((e, i) => e.type === 'item.completed' && e.status === 'succeeded' && e.task === 'each' && e.attempt === 1 && e.runId === (runId ?? e.runId) && e.time >= started[i]!.time))
  t.is(new Set(started.map((e) => e.index)).size, ITEMS)
}

test('in memory, a with-items run keeps under 64 bytes of heap per item alive (its item events were ~190), and its events read back whole', async (t) => {
  t.timeout(120_000)
  const { perItem, events } = await measure(new Engine())
  t.log(`heap kept per item: ${perItem.toFixed(1)} bytes`)
  t.true(perItem < BOUND_BYTES_PER_ITEM, `${perItem.toFixed(1)} bytes per item`)
  checkEvents(t, events, events[0]!.runId)
})

test('batched on SQLite, the same', async (t) => {
  t.timeout(120_000)
  const dir = mkdtempSync(join(tmpdir(), 'items-heap-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const { perItem, events } = await measure(new Engine({ store: `sqlite:${join(dir, 'heap.db')}`, durability: 'batched' }))
  t.log(`heap kept per item: ${perItem.toFixed(1)} bytes`)
  t.true(perItem < BOUND_BYTES_PER_ITEM, `${perItem.toFixed(1)} bytes per item`)
  checkEvents(t, events, undefined)
})
