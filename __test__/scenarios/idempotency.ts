// Idempotent starts: 1,000 concurrent starts with one key make one run (in
// one process, and from 4 processes on one store); a failed run's key
// starts a new one. Shared by the memory and SQLite (idempotent-start.spec.ts)
// and PostgreSQL (features-postgres.spec.ts) tests.
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import type { ExecutionContext } from 'ava'

import { Engine } from '../../lib/index'

export function keySetup(options: ConstructorParameters<typeof Engine>[0] = {}) {
  const engine = new Engine(options)
  let calls = 0
  engine.action('charge', async ({ fail }: { fail?: boolean }) => {
    calls++
    if (fail) throw new Error('card declined')
    return `receipt-${calls}`
  })
  const wf = engine.workflow({ name: 'pay', tasks: { c: { action: 'charge', input: { fail: '{{ input.fail }}' } } }, output: '{{ tasks.c.result }}' })
  return { engine, wf, calls: () => calls }
}

/** `store`: a store URL, or undefined for memory. */
export async function oneRunPerKey(t: ExecutionContext, store: string | undefined): Promise<void> {
  const { engine, wf, calls } = keySetup(store ? { store } : {})
  const outputs = await Promise.all(Array.from({ length: 1000 }, () => engine.run(wf, { fail: false }, { idempotencyKey: 'order-42' })))
  t.is(calls(), 1)
  t.true(outputs.every((o) => o === 'receipt-1'))
  // after it ended, the same key still answers it
  const again = engine.start(wf, { fail: false }, { idempotencyKey: 'order-42' })
  t.is(await again.result(), 'receipt-1')
  t.is(calls(), 1)
  if (store) t.is((await engine.runs({ workflow: 'pay' })).length, 1)
  await engine.close()
}

export async function failedKeyStartsNew(t: ExecutionContext, store: string | undefined): Promise<void> {
  const { engine, wf, calls } = keySetup(store ? { store } : {})
  const first = engine.start(wf, { fail: true }, { idempotencyKey: 'k' })
  await t.throwsAsync(first.result())
  const second = engine.start(wf, { fail: false }, { idempotencyKey: 'k' })
  t.not(second.id, first.id)
  t.is(await second.result(), 'receipt-2')
  t.is(engine.start(wf, {}, { idempotencyKey: 'k' }).id, second.id)
  t.is(calls(), 2)
  if (store) t.deepEqual((await engine.runs({ workflow: 'pay' })).map((r) => r.status).sort(), ['failed', 'succeeded'])
  await engine.close()
}

/**
 * `processes` real processes on one shared store, each making `perProcess`
 * starts with one key in one burst, all released at once: exactly one run
 * executes, and every start answers its id (a Run, or a RunExistsError
 * naming it while it is live in another process).
 */
export async function oneRunPerKeyAcrossProcesses(t: ExecutionContext, store: string, processes = 4, perProcess = 250): Promise<void> {
  const children = Array.from({ length: processes }, () =>
    spawn(process.execPath, [join(__dirname, '..', 'fixtures', 'keyed-start-child.mjs'), store, 'order-7', String(perProcess)], { stdio: ['pipe', 'pipe', 'inherit'] }))
  const outputs = children.map((child) => {
    const lines: string[] = []
    let ready!: () => void
    const isReady = new Promise<void>((resolve) => (ready = resolve))
    const done = (async () => {
      for await (const line of createInterface({ input: child.stdout! })) {
        lines.push(line)
        if (line === 'ready') ready()
        if (line === 'done') break
      }
      return lines
    })()
    return { isReady, done }
  })
  await Promise.all(outputs.map((o) => o.isReady))
  for (const child of children) child.stdin!.write('go\n')
  const all = (await Promise.all(outputs.map((o) => o.done))).flat()
  for (const child of children) child.stdin!.end()
  t.deepEqual(all.filter((l) => l.startsWith('error')), [], 'no start failed another way')
  t.is(all.filter((l) => l === 'exec').length, 1, 'exactly one run executed')
  const answered = all.filter((l) => l.startsWith('id ') || l.startsWith('exists ')).map((l) => l.split(' ')[1])
  t.is(answered.length, processes * perProcess, 'every start answered')
  t.deepEqual([...new Set(answered)], [answered[0]], 'every start answered the same run')
  t.true(all.some((l) => l.startsWith('id ')), 'its own process holds it')
  t.true(all.filter((l) => l.startsWith('output ')).every((l) => l === `output ${answered[0]} "receipt"`))
  const reader = new Engine({ store })
  const runs = await reader.runs({ workflow: 'keyed' })
  t.deepEqual(runs.map((r) => [r.id, r.status]), [[answered[0], 'succeeded']])
  await reader.close()
}
