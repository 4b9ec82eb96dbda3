import test from 'ava'

import { ContextError, WorkflowContext } from '../lib/index'

function sample(): WorkflowContext {
  const ctx = new WorkflowContext({
    input: { urls: ['a', 'b'], n: 3 },
    vars: { total: 10 },
    system: { run_id: 'run-1', workflow: 'demo' },
  })
  ctx.setTaskResult('fetch', { rows: [{ name: 'x' }, { name: 'y' }] })
  return ctx
}

test('get reads nested paths through every root name', (t) => {
  const ctx = sample().withItem({ id: 7, tags: ['p', 'q'] }, 4)
  t.is(ctx.get('tasks.fetch.result.rows[1].name'), 'y')
  t.is(ctx.get('tasks.fetch.status'), 'succeeded')
  t.is(ctx.get('vars.total'), 10)
  t.is(ctx.get('ctx.total'), 10)
  t.deepEqual(ctx.get('input.urls'), ['a', 'b'])
  t.is(ctx.get('parameters.n'), 3)
  t.is(ctx.get('item.id'), 7)
  t.is(ctx.get('item.tags[1]'), 'q')
  t.is(ctx.get('index'), 4)
  t.is(ctx.get('system.run_id'), 'run-1')
  t.deepEqual(ctx.get('vars'), { total: 10 })
})

test('a missing path gives undefined', (t) => {
  const ctx = sample()
  t.is(ctx.get('tasks.nope.result'), undefined)
  t.is(ctx.get('tasks.fetch.result.rows[10].name'), undefined)
  t.is(ctx.get('vars.missing.deeper'), undefined)
  t.is(ctx.get('item'), undefined)
  t.is(ctx.getVar('missing'), undefined)
  t.is(ctx.getTaskResult('missing'), undefined)
})

test('a malformed path is a ContextError that says where', (t) => {
  const ctx = sample()
  for (const [path, column] of [['vars..x', 6], ['vars.', 6], ['rows[x]', 6], ['a[1', 4], ['', 1]] as const) {
    const error = t.throws(() => ctx.get(path), { instanceOf: ContextError })
    t.is(error?.code, 'ARCFLOW_CONTEXT')
    t.regex(error?.message ?? '', new RegExp(`column ${column}`), path)
    t.is(error?.path, path)
  }
  const unknown = t.throws(() => ctx.get('nope.x'), { instanceOf: ContextError })
  t.regex(unknown?.message ?? '', /unknown name "nope".*input, parameters, vars/)
  t.throws(() => ctx.get(42 as unknown as string), { instanceOf: TypeError })
})

test('getters return owned copies: mutating one changes nothing stored', (t) => {
  const ctx = sample()
  const rows = ctx.get('tasks.fetch.result.rows') as Array<{ name: string }>
  rows[0].name = 'changed'
  const result = ctx.getTaskResult('fetch') as { rows: unknown[] }
  result.rows.push('x')
  t.is(ctx.get('tasks.fetch.result.rows[0].name'), 'x')
  t.is((ctx.getTaskResult('fetch') as { rows: unknown[] }).rows.length, 2)
})

test('setVar replaces a variable and getVar reads it back with its type', (t) => {
  const ctx = sample()
  for (const value of [0, -1.5, 'text', true, false, null, [1, [2, [3]]], { a: { b: 'c' } }, 2 ** 53, 1e300]) {
    ctx.setVar('v', value)
    t.deepEqual(ctx.getVar('v'), value)
  }
})

test('clones and per-item handles share variables and task results', (t) => {
  const ctx = sample()
  const copy = ctx.clone()
  const item = ctx.withItem('b', 1)
  copy.setVar('later', 1)
  item.setTaskResult('late', { ok: true })
  t.is(ctx.getVar('later'), 1)
  t.is(item.getVar('later'), 1)
  t.deepEqual(ctx.getTaskResult('late'), { ok: true })
  t.is(item.get('item'), 'b')
  t.is(ctx.get('item'), undefined)
  t.is(copy.get('item'), undefined)
  // an item handle derived again keeps only its own item
  t.is(item.withItem('c', 2).get('item'), 'c')
  t.is(item.get('index'), 1)
})

test('withItem rejects an index that is not a non-negative integer', (t) => {
  const ctx = sample()
  for (const index of [-1, 1.5, Number.NaN, 2 ** 32, '1' as unknown as number]) {
    t.throws(() => ctx.withItem('x', index), { instanceOf: TypeError })
  }
})

test('export then import restores the context exactly', (t) => {
  const ctx = sample()
    .withItem({ __proto__: null, id: 1 }, 3)
    .withOutcome({ status: 'failed', error: { message: 'boom' } })
  ctx.setVar('constructor', { prototype: [1.5, null, 'é'] })
  const doc = ctx.export()
  t.is(doc.version, 1)
  t.deepEqual(doc.item, { value: { id: 1 }, index: 3 })
  t.deepEqual(doc.tasks.fetch, { status: 'succeeded', result: { rows: [{ name: 'x' }, { name: 'y' }] }, error: null })
  const back = WorkflowContext.import(doc)
  t.deepEqual(back.export(), doc)
  t.deepEqual(WorkflowContext.import(JSON.stringify(doc)).export(), doc)
  t.is(back.get('item.id'), 1)
  t.true(back.evaluate('{{ failed() }}'))
  t.deepEqual(back.getVar('constructor'), { prototype: [1.5, null, 'é'] })
})

test('import rejects a bad document with a ContextError', (t) => {
  for (const doc of ['{', '{"version":2}', '{"version":1,"surprise":1}', '{"version":1,"tasks":{"a":{"status":"weird"}}}']) {
    t.throws(() => WorkflowContext.import(doc), { instanceOf: ContextError }, doc)
  }
})

test('setting names must be non-empty strings', (t) => {
  const ctx = sample()
  t.throws(() => ctx.setVar('', 1), { instanceOf: TypeError })
  t.throws(() => ctx.setVar(1 as unknown as string, 1), { instanceOf: TypeError })
  t.throws(() => ctx.setTaskResult(undefined as unknown as string, 1), { instanceOf: TypeError })
})

test('setTaskOutcome records status, result and error for templates', (t) => {
  const ctx = sample()
  ctx.setTaskOutcome('flaky', { status: 'failed', error: { message: 'boom' } })
  t.is(ctx.get('tasks.flaky.status'), 'failed')
  t.is(ctx.render('{{ tasks.flaky.error.message }}'), 'boom')
  t.is(ctx.get('tasks.flaky.result'), null)
  t.throws(() => ctx.setTaskOutcome('x', { status: 'nope' as 'failed' }), { instanceOf: TypeError })
})

test('system values are set with the context and must be an object', (t) => {
  const ctx = new WorkflowContext({ system: { run_id: 'r', started_at: new Date(0) } })
  t.is(ctx.get('system.started_at'), '1970-01-01T00:00:00.000Z')
  t.throws(() => new WorkflowContext({ system: [1] as unknown as Record<string, unknown> }), { code: 'ARCFLOW_INVALID_VALUE' })
})
