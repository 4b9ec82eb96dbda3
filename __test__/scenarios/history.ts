// One set of runs, made the same way on any store, and everything the
// engine reads back about them (getRun, runs with filters, events, the
// ledger, balances), times made relative so two stores' answers compare
// equal. postgres-store.spec.ts runs it on SQLite and PostgreSQL and
// compares, for each durability mode.
import { Engine } from '../../lib/index'
import type { Durability } from '../../lib/engine/run'

/** Every number field named like a time, replaced by whether it was there. */
function timeless(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(timeless)
  if (value === null || typeof value !== 'object') return value
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, /^(at|startedAt|endedAt)$/.test(k) ? typeof v === 'number' : timeless(v)]))
}

export const RUN_IDS = ['h-chain-1', 'h-chain-2', 'h-items', 'h-loop', 'h-failed', 'h-metered', 'h-broke'] as const

/** Runs the history's runs on `store`, closes, and reads everything back through a second engine. */
export async function history(store: string, durability: Durability): Promise<Record<string, unknown>> {
  const engine = new Engine({ store, durability, snapshotEvery: 2, handleSignals: false })
  engine.action('step', async (n: number, ctx) => {
    ctx.log(`step ${n}`, { n })
    return n + 1
  })
  engine.action('double', async (n: number) => n * 2)
  engine.action('boom', async () => {
    throw new Error('it broke')
  })
  engine.action('paid', async (n: number, ctx) => {
    ctx.charge(2)
    return n
  }, { cost: 5 })
  const chain = engine.workflow({ name: 'chain', tasks: { a: { action: 'step', input: '{{ input }}', next: { do: 'b', publish: { seen: '{{ result() }}' } } }, b: { action: 'step', input: '{{ tasks.a.result }}' } }, output: '{{ tasks.b.result }}' })
  // cycles past snapshotEvery: snapshots are written while it runs
  const loop = engine.workflow({ name: 'loop', vars: { n: 0 }, start: ['l'], tasks: { l: { action: 'double', input: '{{ vars.n + 1 }}', next: [{ when: '{{ result() < 40 }}', publish: { n: '{{ result() }}' }, do: 'l' }] } }, output: '{{ vars.n }}' })
  const items = engine.workflow({ name: 'items', tasks: { fan: { action: 'double', with: { items: '{{ input }}', concurrency: 1 }, input: '{{ item }}' } }, output: '{{ tasks.fan.result }}' })
  const failing = engine.workflow({ name: 'failing', tasks: { x: { action: 'boom', retry: { count: 1, delay: '1ms' } } } })
  const metered = engine.workflow({ name: 'metered', tasks: { p: { action: 'paid', input: '{{ input }}', next: { do: 'q' } }, q: { action: 'paid', input: '{{ tasks.p.result }}' } }, output: '{{ tasks.q.result }}' })
  engine.credit('acme', 100, { key: 'top-up-1' })
  engine.credit('poor', 3, { key: 'top-up-2' }) // less than one task's estimate
  await engine.run(chain, 1, { runId: 'h-chain-1' })
  await engine.run(chain, 10, { runId: 'h-chain-2' })
  await engine.run(items, [1, 2, 3], { runId: 'h-items' })
  await engine.run(loop, null, { runId: 'h-loop' })
  await engine.start(failing, {}, { runId: 'h-failed' }).result().catch(() => {})
  await engine.run(metered, 7, { runId: 'h-metered', account: 'acme' })
  await engine.start(metered, 8, { runId: 'h-broke', account: 'poor' }).result().catch(() => {})
  await engine.close()

  const reader = new Engine({ store, handleSignals: false })
  const read: Record<string, unknown> = {}
  for (const id of RUN_IDS) read[`getRun ${id}`] = await reader.getRun(id)
  const ids = (runs: Array<{ id: string }>): string[] => runs.map((r) => r.id).sort()
  read['runs'] = ids(await reader.runs())
  read['runs succeeded'] = ids(await reader.runs({ status: 'succeeded' }))
  read['runs failed'] = ids(await reader.runs({ status: 'failed' }))
  read['runs chain'] = ids(await reader.runs({ workflow: 'chain' }))
  read['runs limit 2'] = (await reader.runs({ limit: 2 })).length
  read['ledger acme'] = (await reader.ledger('acme', { limit: 100 })).sort((a, b) => a.key.localeCompare(b.key))
  read['balance acme'] = reader.balance('acme')
  read['interrupted'] = await reader.interruptedRuns()
  await reader.close()
  return timeless(read) as Record<string, unknown>
}
