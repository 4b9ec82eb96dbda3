// Hostile shapes, values and options (issue 17): each test is named after
// the break it pins.
import test from 'ava'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { Engine, type RunEvent } from '../lib/index'

const dbPath = (): string => join(mkdtempSync(join(tmpdir(), 'arcflow-hostile-')), 'arcflow.db')

function engineFor(durability: 'none' | 'batched' | 'sync'): Engine {
  return new Engine(durability === 'none' ? {} : { store: `sqlite:${dbPath()}`, durability })
}

for (const durability of ['none', 'batched', 'sync'] as const) {
  test(`an empty with-items task beside a sibling no longer ends the run early (${durability})`, async (t) => {
    const ran: string[] = []
    const engine = engineFor(durability).action('a', async (_input, ctx) => {
      ran.push(ctx.task)
      return ctx.task
    })
    const wf = engine.workflow({
      name: 'empty-fan',
      tasks: {
        s: { action: 'a', next: { do: ['fan', 'side'] } },
        fan: { action: 'a', with: { items: '{{ [] }}' }, next: { do: 'join' } },
        side: { action: 'a', next: { do: 'join' } },
        join: { action: 'a', join: 'all' },
      },
      output: '{{ [tasks.fan.result, tasks.join.result] }}',
    })
    const run = engine.start(wf, {})
    t.deepEqual(await run.result(), [[], 'join'])
    t.deepEqual(ran.sort(), ['join', 's', 'side'])
    const succeeded = run.history().filter((e: RunEvent) => e.type === 'task.succeeded').map((e) => (e as { task: string }).task)
    t.deepEqual(succeeded.sort(), ['fan', 'join', 's', 'side'])
    await engine.close()
  })
}
