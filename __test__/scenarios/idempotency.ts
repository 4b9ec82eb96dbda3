// Idempotent starts: 1,000 concurrent starts with one key make one run; a
// failed run's key starts a new one. Shared by the memory and SQLite
// (idempotent-start.spec.ts) and PostgreSQL (features-postgres.spec.ts) tests.
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
