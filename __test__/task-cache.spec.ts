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

test("task.cached names the rendered key as JSON: a template's value, a literal as written, a JSON structure rendered", async (t) => {
  const engine = new Engine()
  engine.action('inc', async (n: number) => n + 1)
  const keys: string[] = []
  engine.on('event', (e) => { if (e.type === 'task.cached') keys.push(e.key) })
  const wf = (name: string, key: unknown) => engine.workflow({ name, tasks: { t: { action: 'inc', input: '{{ input.n }}', cache: { key } } }, output: '{{ tasks.t.result }}' })
  const byTemplate = wf('by-template', '{{ input.doc }}')
  const literal = wf('literal', 'always')
  const structure = wf('structure', { doc: '{{ input.doc }}', v: 2 })
  const fixed = wf('fixed', { v: 2 })
  for (const w of [byTemplate, literal, structure, fixed]) {
    t.is(await engine.run(w, { doc: 'a', n: 1 }), 2)
    t.is(await engine.run(w, { doc: 'a', n: 5 }), 2) // a hit: the key, not the input, decides
  }
  t.is(await engine.run(byTemplate, { doc: 'b', n: 5 }), 6) // another key: a miss
  t.deepEqual(keys, ['"a"', '"always"', '{"doc":"a","v":2}', '{"v":2}'])
})

test('a key that fails to render fails the attempt with the template error; nothing runs or is kept', async (t) => {
  const engine = new Engine()
  let runs = 0
  engine.action('inc', async (n: number) => { runs++; return n + 1 })
  const wf = engine.workflow({ name: 'strict', tasks: { t: { action: 'inc', input: 1, cache: { key: '{{ input.doc | no_such_filter }}' } } } })
  const error = await t.throwsAsync(engine.run(wf, { doc: 'a' }))
  t.like(error?.cause, { name: 'ExpressionError', code: 'ARCFLOW_EXPRESSION' })
  t.regex((error?.cause as Error).message, /unknown filter/)
  t.is(runs, 0)
  t.deepEqual(engine.cache.stats, { hits: 0, storeHits: 0, misses: 0 })
})
