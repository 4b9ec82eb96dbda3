// The task result cache (issue 14): `cache: { key, ttl }` on an action task.
import test from 'ava'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { Engine, type RunEvent } from '../lib/index'

const dbPath = (): string => join(mkdtempSync(join(tmpdir(), 'arcflow-cache-')), 'a.db')
const definition = (ttl: string) => ({
  name: 'sum',
  tasks: { s: { action: 'summarize', input: { doc: '{{ input.doc }}' }, cache: { key: '{{ input.doc }}', ttl } } },
  output: '{{ tasks.s.result }}',
})

function setup(options: ConstructorParameters<typeof Engine>[0] = {}, ttl = '1h') {
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

test('a hit is used instead of running the action: task.cached, no charge; a miss runs it', async (t) => {
  const { engine, calls, events, wf } = setup()
  engine.credit('acme', 100, { key: 'k' })
  t.is(await engine.run(wf, { doc: 'a' }, { account: 'acme' }), 'summary of a')
  t.is(await engine.run(wf, { doc: 'a' }, { account: 'acme' }), 'summary of a')
  t.is(await engine.run(wf, { doc: 'b' }, { account: 'acme' }), 'summary of b')
  t.deepEqual(calls, ['a', 'b'])
  t.is(events.filter((e) => e.type === 'task.cached').length, 1)
  t.is(engine.balance('acme'), 100 - 2 * 5)
  t.deepEqual(engine.cache.stats, { hits: 1, storeHits: 0, misses: 2 })
})

test('an expired result is not used; a failure is not cached', async (t) => {
  const { engine, calls, wf } = setup({}, '30ms')
  await engine.run(wf, { doc: 'a' })
  await new Promise((r) => setTimeout(r, 60))
  await engine.run(wf, { doc: 'a' })
  t.deepEqual(calls, ['a', 'a'])
  await t.throwsAsync(engine.run(wf, { doc: 'bad' }))
  await t.throwsAsync(engine.run(wf, { doc: 'bad' }))
  t.deepEqual(calls, ['a', 'a', 'bad', 'bad'])
})

test('with a store, the cache is shared by two engines on it; cache.clear drops it for both', async (t) => {
  const store = `sqlite:${dbPath()}`
  const one = setup({ store })
  const two = setup({ store })
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
})

test('with-items: a key per item; cache on a workflow task is refused at load', async (t) => {
  const engine = new Engine()
  let runs = 0
  engine.action('sq', async (n: number) => { runs++; return n * n })
  const wf = engine.workflow({ name: 'sq', tasks: { s: { action: 'sq', with: { items: '{{ input.xs }}' }, input: '{{ item }}', cache: { key: '{{ item }}' } } }, output: '{{ tasks.s.result }}' })
  t.deepEqual(await engine.run(wf, { xs: [1, 2, 3] }), [1, 4, 9])
  t.deepEqual(await engine.run(wf, { xs: [3, 2, 4] }), [9, 4, 16])
  t.is(runs, 4)
  engine.workflow({ name: 'c', tasks: { s: { action: 'sq', input: 1 } } })
  t.throws(() => engine.workflow({ name: 'bad', tasks: { s: { workflow: 'c', cache: { key: 'x' } } } }), { message: /action tasks only/ })
  await t.throwsAsync(engine.cache.clear({ task: 's' }), { message: /within its workflow/ })
})
