// An item's input was never journaled (its execution row, written once
// when the item ends, carried none): `getRun` and the report could only
// say "not recorded". Now each item's row carries the input its attempt
// ran with, on disk and through `getRun`; a retried item's rows each carry
// their own attempt's input (rendered again at the retry, from a context
// that may have changed since), and an item whose context changed while it
// ran keeps the input it started with.
import test from 'ava'
import Database from 'better-sqlite3'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { Engine } from '../lib/index'

const dbPath = (): string => join(mkdtempSync(join(tmpdir(), 'arcflow-item-inputs-')), 'arcflow.db')

interface Row {
  item: number
  attempt: number
  status: string
  input: string | null
}

function rows(path: string, runId: string): Row[] {
  const db = new Database(path, { readonly: true })
  try {
    return db.prepare('SELECT item, attempt, status, input FROM executions WHERE run_id = ? AND item >= 0 ORDER BY item, attempt').all(runId) as Row[]
  } finally {
    db.close()
  }
}

test("a durable with-items run's item rows carry their inputs (getRun and the SQLite rows)", async (t) => {
  const path = dbPath()
  const engine = new Engine({ store: `sqlite:${path}` }).action('double', async (x: { n: number }) => x.n * 2)
  const wf = engine.workflow({
    name: 'fan',
    tasks: { each: { action: 'double', with: { items: '{{ input }}', concurrency: 2 }, input: { n: '{{ item }}', at: '{{ index }}' } } },
    output: '{{ tasks.each.result }}',
  })
  const run = engine.start(wf, [5, 6, 7])
  t.deepEqual(await run.result(), [10, 12, 14])
  await engine.close()

  t.deepEqual(
    rows(path, run.id).map((r) => [r.item, r.status, r.input === null ? null : JSON.parse(r.input)]),
    [
      [0, 'succeeded', { n: 5, at: 0 }],
      [1, 'succeeded', { n: 6, at: 1 }],
      [2, 'succeeded', { n: 7, at: 2 }],
    ],
  )
  const reader = new Engine({ store: `sqlite:${path}` })
  const info = (await reader.getRun(run.id))!
  const items = info.tasks.filter((x) => x.item !== undefined).sort((a, b) => a.item! - b.item!)
  t.deepEqual(
    items.map((x) => [x.item, x.input, x.result]),
    [
      [0, { n: 5, at: 0 }, 10],
      [1, { n: 6, at: 1 }, 12],
      [2, { n: 7, at: 2 }, 14],
    ],
  )
  await reader.close()
})

test("a retried item's rows carry each attempt's input: the last attempt's row, the input that attempt ran with", async (t) => {
  const path = dbPath()
  // item 1 fails once; by its retry, a sibling branch has published a new
  // `round`, so the retry's input differs from its first attempt's
  let failedOnce = false
  const engine = new Engine({ store: `sqlite:${path}` })
    .action('work', async (x: { n: number; round: number }) => {
      if (x.n === 1 && !failedOnce) {
        failedOnce = true
        await new Promise((resolve) => setTimeout(resolve, 20))
        throw new Error('transient')
      }
      // item 2 is still running when `round` changes: its row keeps the input it ran with
      if (x.n === 2) await new Promise((resolve) => setTimeout(resolve, 30))
      return x.n
    })
    .action('bump', async () => 2)
  const wf = engine.workflow({
    name: 'retried',
    vars: { round: 1 },
    tasks: {
      each: { action: 'work', with: { items: '{{ range(3) }}', concurrency: 3 }, input: { n: '{{ item }}', round: '{{ vars.round }}' }, retry: { count: 2, delay: '50ms' } },
      bump: { action: 'bump', next: { publish: { round: '{{ result() }}' } } },
    },
    output: '{{ tasks.each.result }}',
  })
  const run = engine.start(wf, null)
  t.deepEqual(await run.result(), [0, 1, 2])
  await engine.close()

  t.deepEqual(
    rows(path, run.id).map((r) => [r.item, r.attempt, r.status, JSON.parse(r.input!)]),
    [
      [0, 1, 'succeeded', { n: 0, round: 1 }],
      [1, 1, 'retrying', { n: 1, round: 1 }],
      [1, 2, 'succeeded', { n: 1, round: 2 }],
      [2, 1, 'succeeded', { n: 2, round: 1 }],
    ],
  )
  const reader = new Engine({ store: `sqlite:${path}` })
  const info = (await reader.getRun(run.id))!
  t.deepEqual(
    info.tasks.filter((x) => x.item === 1).map((x) => [x.attempt, x.status, x.input]),
    [
      [1, 'retrying', { n: 1, round: 1 }],
      [2, 'succeeded', { n: 1, round: 2 }],
    ],
  )
  await reader.close()
})
