import test from 'ava'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { compile, Engine, ExpressionError, InternalError, RunFailedError, ValueError, WorkflowContext } from '../lib/index'
import { native } from '../lib/binding'

function nested(depth: number): unknown {
  let value: unknown = 'leaf'
  for (let i = 0; i < depth; i++) value = { next: value }
  return value
}

test('__proto__, constructor and prototype keys are plain data and pollute nothing', (t) => {
  const hostile = JSON.parse('{"__proto__": {"polluted": true}, "constructor": {"prototype": {"polluted": true}}, "prototype": 1}')
  const ctx = new WorkflowContext({ input: hostile })
  ctx.setVar('x', hostile)
  ctx.setTaskResult('t', hostile)
  const reads = [ctx.getVar('x'), ctx.getTaskResult('t'), ctx.get('input'), ctx.render('{{ input }}'), ctx.renderJson({ v: '{{ vars.x }}' })]
  for (const value of reads) {
    const object = (value as { v?: unknown }).v ?? value
    t.deepEqual(Object.keys(object as object), ['__proto__', 'constructor', 'prototype'])
    t.is(Object.getPrototypeOf(object), Object.prototype)
    t.deepEqual(Object.getOwnPropertyDescriptor(object, '__proto__')?.value, { polluted: true })
  }
  t.is(ctx.get('input["__proto__"].polluted'), true)
  t.is(ctx.get('input.constructor.prototype.polluted'), true)
  t.is(({} as { polluted?: unknown }).polluted, undefined)
  t.is((Object.prototype as { polluted?: unknown }).polluted, undefined)
  const restored = WorkflowContext.import(ctx.export())
  t.deepEqual(Object.keys(restored.getVar('x') as object), ['__proto__', 'constructor', 'prototype'])
  t.is(({} as { polluted?: unknown }).polluted, undefined)
})

test('10,000-deep nesting is a clear ValueError, not a stack overflow', (t) => {
  const ctx = new WorkflowContext()
  for (const set of [() => ctx.setVar('deep', nested(10_000)), () => new WorkflowContext({ input: nested(10_000) })]) {
    const error = t.throws(set, { instanceOf: ValueError })
    t.is(error?.code, 'ARCFLOW_INVALID_VALUE')
    t.regex(error?.message ?? '', /nested deeper than 100 levels/)
  }
  t.throws(() => ctx.setVar('deeper', nested(1_000_000)), { instanceOf: ValueError })
  ctx.setVar('ok', nested(99))
  t.is(ctx.get('vars.ok.next.next.next') !== undefined, true)
  t.throws(() => compile(`{{ ${'('.repeat(10_000)}1${')'.repeat(10_000)} }}`), { instanceOf: ExpressionError })
  t.throws(() => compile(`{{ ${'['.repeat(10_000)}${']'.repeat(10_000)} }}`), { instanceOf: ExpressionError })
  // the context still works afterwards
  t.is(ctx.render('{{ 1 + 1 }}'), 2)
})

test('NaN and infinities become null, as in JSON', (t) => {
  const ctx = new WorkflowContext()
  ctx.setVar('v', [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, { n: Number.NaN }])
  t.deepEqual(ctx.getVar('v'), [null, null, null, { n: null }])
  ctx.setVar('nan', Number.NaN)
  t.is(ctx.getVar('nan'), null)
})

test('BigInt is a ValueError with a hint, and nothing is stored', (t) => {
  const ctx = new WorkflowContext()
  ctx.setVar('v', 1)
  const error = t.throws(() => ctx.setVar('v', { n: 10n }), { instanceOf: ValueError })
  t.regex(error?.message ?? '', /variable 'v' cannot be workflow data: .*BigInt.*convert BigInt values/)
  t.true(error?.cause instanceof TypeError)
  t.is(ctx.getVar('v'), 1)
  // an item is encoded when its handle is first read through
  const item = ctx.withItem(5n, 0)
  t.throws(() => item.render('{{ item }}'), { instanceOf: ValueError, message: /item cannot be workflow data/ })
})

test('undefined, functions and symbols follow JSON: dropped in objects, null elsewhere', (t) => {
  const ctx = new WorkflowContext()
  ctx.setVar('o', { a: undefined, f: () => 1, s: Symbol('x'), keep: 1 })
  t.deepEqual(ctx.getVar('o'), { keep: 1 })
  ctx.setVar('l', [undefined, () => 1, Symbol('x')])
  t.deepEqual(ctx.getVar('l'), [null, null, null])
  ctx.setVar('u', undefined)
  t.is(ctx.getVar('u'), null)
  ctx.setVar('fn', () => 1)
  t.is(ctx.getVar('fn'), null)
})

test('Dates become ISO strings', (t) => {
  const ctx = new WorkflowContext()
  const when = new Date(Date.UTC(2026, 10, 23, 9, 30))
  ctx.setVar('when', { when })
  t.deepEqual(ctx.getVar('when'), { when: '2026-11-23T09:30:00.000Z' })
  t.is(ctx.render('{{ vars.when.when[:4] }}'), '2026')
})

test('a cycle is a ValueError', (t) => {
  const cyclic: { self?: unknown } = {}
  cyclic.self = cyclic
  t.throws(() => new WorkflowContext().setVar('c', cyclic), { instanceOf: ValueError, message: /circular/i })
})

test('a non-string template is a TypeError', (t) => {
  const ctx = new WorkflowContext()
  for (const bad of [42, null, undefined, {}, ['{{ 1 }}'], Symbol('x')]) {
    t.throws(() => ctx.render(bad as unknown as string), { instanceOf: TypeError, message: /template must be a string/ })
    t.throws(() => ctx.evaluate(bad as unknown as string), { instanceOf: TypeError, message: /condition must be a string/ })
    t.throws(() => compile(bad as unknown as string), { instanceOf: TypeError })
  }
})

test('a 10 MB string works as data and as a template', (t) => {
  const big = 'x'.repeat(10 * 1024 * 1024)
  const ctx = new WorkflowContext({ input: { big } })
  ctx.setVar('big', big)
  t.is((ctx.getVar('big') as string).length, big.length)
  t.is((ctx.render('{{ input.big }}') as string).length, big.length)
  t.is((ctx.render('{{ input.big | length }}') as number), big.length)
  t.is((ctx.render(`${big}{{ 1 }}`) as string).length, big.length + 1)
  t.is((ctx.export().input as { big: string }).big.length, big.length)
})

test('a panic in native code becomes an InternalError, and the process goes on', (t) => {
  let thrown: unknown
  try {
    native.__panicForTest()
  } catch (error) {
    thrown = error
  }
  const { fromNative } = require('../lib/errors') as typeof import('../lib/errors')
  const error = fromNative(thrown)
  t.true(error instanceof InternalError)
  t.is((error as InternalError).code, 'ARCFLOW_INTERNAL')
  t.regex((error as Error).message, /panic in native code: deliberate panic/)
  t.is(new WorkflowContext({ input: 2 }).render('{{ input * 2 }}'), 4)
})

test("an item's result that cannot be workflow data fails its task with an error naming the item, in memory and batched", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bad-item-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  for (const engine of [new Engine(), new Engine({ store: `sqlite:${join(dir, 'bad.db')}`, durability: 'batched' })]) {
    engine.action('make', async (n: number) => (n === 2 ? 1n : n))
    const wf = engine.workflow({ name: 'bad', tasks: { each: { action: 'make', with: { items: '{{ range(4) }}', concurrency: 1 }, input: '{{ item }}' } } })
    const error = await t.throwsAsync(engine.run(wf), { instanceOf: RunFailedError })
    t.regex(error?.failure.message ?? '', /^result of item 2 of task 'each' cannot be workflow data: .*BigInt.*\(convert BigInt values to strings or numbers\)/)
    await engine.close()
  }
})
