// The run log's item events kept as numbers (lib/engine/item-events.ts):
// what goes in comes back, field for field, in any reading order, across
// its pages (64 rows first, doubling to 4,096) and for several runs and tasks.
import test from 'ava'

import { ItemEvents, type ItemStatus } from '../lib/engine/item-events'

const STATUSES: Array<ItemStatus | undefined> = [undefined, 'succeeded', 'failed', 'timed_out']

function expected(row: number): Record<string, unknown> {
  const runId = row % 3 === 0 ? 'run-a' : 'run-b'
  const task = row % 5 === 0 ? 'fetch' : 'store'
  const status = STATUSES[row % 4]
  const base = { runId, time: 1_700_000_000_000 + row * 7, task, attempt: 1 + (row % 9), index: row * 3 }
  return status === undefined ? { type: 'item.started', ...base } : { type: 'item.completed', ...base, status }
}

test('20,000 item events read back whole, in order, backwards and at random', (t) => {
  const events = new ItemEvents()
  const rows = 20_000
  for (let row = 0; row < rows; row++) {
    const e = expected(row)
    t.is(events.add(e.runId as string, e.time as number, e.task as string, e.attempt as number, e.index as number, e.status as ItemStatus | undefined), row)
  }
  t.is(events.length, rows)
  const order = [...Array(rows).keys()]
  const shuffled = order.map((row) => [(row * 7919) % rows, row] as const).sort((a, b) => a[0] - b[0]).map(([, row]) => row)
  for (const reading of [order, [...order].reverse(), shuffled]) {
    let wrong = 0
    for (const row of reading) {
      const got = events.at(row)
      const want = expected(row)
      // the same keys, in the order the engine's literals had them
      if (JSON.stringify(got) !== JSON.stringify({ type: want.type, runId: want.runId, time: want.time, task: want.task, attempt: want.attempt, index: want.index, ...(want.status ? { status: want.status } : {}) })) wrong++
    }
    t.is(wrong, 0)
  }
})
