// Metering's scenario shared by metering.spec.ts (memory, SQLite) and
// postgres-store.spec.ts: 1,000 concurrent runs on an account that covers
// exactly 300 tasks.
import type { ExecutionContext } from 'ava'

import { Engine, RunFailedError, type RunEvent } from '../../lib/index'

export function oneTask(engine: Engine, action = 'work') {
  return engine.workflow({ name: 'one', tasks: { t: { action, input: '{{ input }}' } }, output: '{{ tasks.t.result }}' })
}

export async function exactlyCovered(t: ExecutionContext, store?: string) {
  const engine = new Engine(store ? { store } : {})
  let ran = 0
  engine.action('work', async (n: number) => {
    ran++
    await new Promise((resolve) => setImmediate(resolve))
    return n
  }, { cost: 3 })
  const wf = oneTask(engine)
  engine.credit('acme', 300 * 3, { key: 'top-up-1' })
  const insufficient: RunEvent[] = []
  engine.on('event', (e) => {
    if (e.type === 'billing.insufficient_balance') insufficient.push(e)
  })
  const runs = Array.from({ length: 1_000 }, (_, i) => engine.start(wf, i, { account: 'acme' }))
  const outcomes = await Promise.allSettled(runs.map((r) => r.result()))
  const ok = outcomes.filter((o) => o.status === 'fulfilled').length
  t.is(ran, 300, 'exactly as many tasks ran as the balance covers')
  t.is(ok, 300)
  t.is(engine.balance('acme'), 0, 'the balance ends at 0, never below')
  const failed = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected').map((o) => o.reason as RunFailedError)
  t.is(failed.length, 700)
  t.true(failed.every((e) => e instanceof RunFailedError && (e.cause as { code?: string }).code === 'ARCFLOW_INSUFFICIENT_BALANCE' && e.task === 't'))
  t.is(insufficient.length, 700)
  t.like(insufficient[0], { account: 'acme', needed: 3, balance: 0, task: 't' })
  const ledger = await engine.ledger('acme', { limit: 10_000 })
  t.is(ledger.filter((e) => e.kind === 'charge').length, 300)
  t.is(ledger.reduce((sum, e) => sum + e.amount, 0), 0, 'the ledger sums to the balance: 900 credited, 900 charged')
  t.is(new Set(ledger.map((e) => e.key)).size, ledger.length)
  await engine.close()
  return engine
}
