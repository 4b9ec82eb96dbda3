// The task result cache (issue 14): `cache: { key, ttl }` on an action task.
import test from 'ava'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { Engine } from '../lib/index'
import { cacheExpires, cacheSetup, cacheShared } from './scenarios/cache'

const dbPath = (): string => join(mkdtempSync(join(tmpdir(), 'arcflow-cache-')), 'a.db')
const setup = cacheSetup

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

test('with a store, the cache is shared by two engines on it; cache.clear drops it for both', (t) => cacheShared(t, `sqlite:${dbPath()}`))
test('with a store, an expired entry is used by neither engine; a failure is not stored', (t) => cacheExpires(t, `sqlite:${dbPath()}`))

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
