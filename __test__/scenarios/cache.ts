// The task result cache with a store: shared by two engines on it (a hit
// in one of what the other ran), an expired entry not used, cache.clear.
// Shared by the SQLite (task-cache.spec.ts) and PostgreSQL
// (features-postgres.spec.ts) tests.
import type { ExecutionContext } from 'ava'

import { Engine, type RunEvent } from '../../lib/index'

const definition = (ttl: string) => ({
  name: 'sum',
  tasks: { s: { action: 'summarize', input: { doc: '{{ input.doc }}' }, cache: { key: '{{ input.doc }}', ttl } } },
  output: '{{ tasks.s.result }}',
})

export function cacheSetup(options: ConstructorParameters<typeof Engine>[0] = {}, ttl = '1h') {
  const engine = new Engine(options)
  const calls: string[] = []
  engine.action('summarize', async ({ doc }: { doc: string }) => {
    calls.push(doc)
    if (doc.startsWith('bad')) throw new Error('failed to summarize')
    return `summary of ${doc}`
  }, { cost: 5 })
  const events: RunEvent[] = []
  engine.on('event', (e) => events.push(e))
  return { engine, calls, events, wf: engine.workflow(definition(ttl)) }
}

export async function cacheShared(t: ExecutionContext, store: string): Promise<void> {
  const one = cacheSetup({ store })
  const two = cacheSetup({ store })
  await one.engine.run(one.wf, { doc: 'a' })
  await one.engine.flush()
  t.is(await two.engine.run(two.wf, { doc: 'a' }), 'summary of a')
  t.deepEqual(two.calls, [])
  t.is(two.engine.cache.stats.storeHits, 1)
  t.is(two.events.filter((e) => e.type === 'task.cached').length, 1)

  await one.engine.cache.clear({ workflow: 'sum', task: 's' })
  await one.engine.run(one.wf, { doc: 'a' })
  t.deepEqual(one.calls, ['a', 'a'])
  await one.engine.cache.clear({ workflow: 'sum' })
  // engine two's in-memory layer still has it: clear it there too, then the store has nothing
  await two.engine.cache.clear()
  await two.engine.run(two.wf, { doc: 'a' })
  t.deepEqual(two.calls, ['a'])
  await one.engine.close()
  await two.engine.close()
}

/** An entry past its ttl is not used by the engine that stored it nor by another one on the store; a failure is not stored. */
export async function cacheExpires(t: ExecutionContext, store: string): Promise<void> {
  const one = cacheSetup({ store }, '200ms')
  const two = cacheSetup({ store }, '200ms')
  await one.engine.run(one.wf, { doc: 'a' })
  await one.engine.flush()
  await new Promise((resolve) => setTimeout(resolve, 400))
  // at once, so that neither reads the entry the other's miss writes anew (sequential runs raced with that write's commit)
  await Promise.all([two.engine.run(two.wf, { doc: 'a' }), one.engine.run(one.wf, { doc: 'a' })])
  t.deepEqual(one.calls, ['a', 'a'])
  t.deepEqual(two.calls, ['a'])
  t.is(two.engine.cache.stats.storeHits, 0)
  await t.throwsAsync(one.engine.run(one.wf, { doc: 'bad' }))
  await one.engine.flush()
  await t.throwsAsync(two.engine.run(two.wf, { doc: 'bad' }))
  t.deepEqual(two.calls, ['a', 'bad'])
  await one.engine.close()
  await two.engine.close()
}
