import { spawnSync } from 'node:child_process'

import test from 'ava'

import { compile, compileCondition, ExpressionError, JsonTemplate, Template, WorkflowContext } from '../lib/index'

function sample(): WorkflowContext {
  const ctx = new WorkflowContext({ input: { urls: ['a', 'b', 'c'], n: 3, name: 'Ada' }, vars: { total: 10, prices: [3, 1.5, 7] } })
  ctx.setTaskResult('fetch', { rows: [{ name: 'x', n: 2 }, { name: 'y', n: 5 }] })
  ctx.setSystem('run_id', 'run-1')
  return ctx
}

test('exactly one {{ expr }} keeps the value type', (t) => {
  const ctx = sample()
  t.is(ctx.render('{{ input.n }}'), 3)
  t.is(ctx.render('{{ input.n / 2 }}'), 1.5)
  t.is(ctx.render('{{ input.n > 2 }}'), true)
  t.is(ctx.render('{{ none }}'), null)
  t.deepEqual(ctx.render('{{ input.urls }}'), ['a', 'b', 'c'])
  t.deepEqual(ctx.render('{{ tasks.fetch.result.rows[1] }}'), { name: 'y', n: 5 })
  t.deepEqual(ctx.render('  {{ {"a": [1, 2]} }}\n'), { a: [1, 2] })
})

test('text mixed with expressions renders to a string; plain text is returned as is', (t) => {
  const ctx = sample()
  t.is(ctx.render('Hello {{ input.name }}!'), 'Hello Ada!')
  t.is(ctx.render('{{ input.n }}{{ input.n }}'), '33')
  t.is(ctx.render('{% for u in input.urls %}{{ u }};{% endfor %}'), 'a;b;c;')
  t.is(ctx.render('no templates'), 'no templates')
  t.is(compile('plain').kind, 'literal')
  t.is(compile('{{ 1 }}').kind, 'expression')
  t.is(compile('a{{ 1 }}').kind, 'text')
})

test('every documented name is in scope', (t) => {
  const ctx = sample().withItem({ id: 42 }, 1)
  t.is(ctx.render('{{ parameters.name }}'), 'Ada')
  t.is(ctx.render('{{ ctx.total }}'), 10)
  t.is(ctx.render('{{ vars.total }}'), 10)
  t.is(ctx.render('{{ task("fetch").result.rows | length }}'), 2)
  t.is(ctx.render('{{ tasks.fetch.result.rows[0].name }}'), 'x')
  t.is(ctx.render('{{ item.id }}'), 42)
  t.is(ctx.render('{{ index }}'), 1)
  t.is(ctx.render('{{ system.run_id }}'), 'run-1')
})

test('everyday filters', (t) => {
  const ctx = sample()
  t.is(ctx.render('{{ input.urls | length }}'), 3)
  t.is(ctx.render('{{ input.urls | join("-") }}'), 'a-b-c')
  t.is(ctx.render('{{ vars.nope | default("d") }}'), 'd')
  t.is(ctx.render('{{ vars.prices | sum }}'), 11.5)
  t.is(ctx.render('{{ vars.prices | min }}'), 1.5)
  t.is(ctx.render('{{ vars.prices | max }}'), 7)
  t.deepEqual(ctx.render('{{ tasks.fetch.result.rows[0] | keys }}'), ['name', 'n'])
  t.deepEqual(ctx.render('{{ tasks.fetch.result.rows | map(attribute="n") | list }}'), [2, 5])
  t.deepEqual(JSON.parse(ctx.render('{{ input.urls | tojson }}') as string), ['a', 'b', 'c'])
  t.is(ctx.render('{{ input.name | upper }}'), 'ADA')
})

test('outcome functions read the outcome the context carries', (t) => {
  const ctx = sample()
  const ok = ctx.withOutcome({ status: 'succeeded', result: { count: 3 } })
  const failed = ctx.withOutcome({ status: 'failed', error: { name: 'Error', message: 'boom' } })
  const late = ctx.withOutcome({ status: 'timed_out' })
  t.true(ok.evaluate('{{ succeeded() }}'))
  t.false(ok.evaluate('{{ failed() }}'))
  t.is(ok.render('{{ result().count * 2 }}'), 6)
  t.true(failed.evaluate('failed()'))
  t.is(failed.render('{{ error().message }}'), 'boom')
  t.true(late.evaluate('timed_out()'))
  const error = t.throws(() => ctx.evaluate('{{ succeeded() }}'), { instanceOf: ExpressionError })
  t.regex(error?.message ?? '', /carries none/)
  t.throws(() => ctx.withOutcome({ status: 'weird' as 'failed' }), { message: /unknown outcome status/ })
})

test('conditions use Jinja truthiness', (t) => {
  const ctx = sample()
  const falsy = ['false', 'none', '0', '0.0', '""', '[]', '{}', 'vars.missing', '{{ false }}']
  const truthy = ['true', '1', '"x"', '[0]', '{"a": 0}', '{{ vars.total >= 10 }}', 'input.urls']
  for (const c of falsy) t.false(ctx.evaluate(c), c)
  for (const c of truthy) t.true(ctx.evaluate(c), c)
  const error = t.throws(() => compileCondition('total is {{ vars.total }}'), { instanceOf: ExpressionError })
  t.is(error?.kind, 'syntax')
  t.regex(error?.message ?? '', /single expression/)
})

test('a compiled template renders many times against different contexts', (t) => {
  const template = new Template('{{ item * 2 }}')
  const input = new JsonTemplate({ doubled: '{{ item * 2 }}', at: '{{ index }}' })
  const ctx = sample()
  t.deepEqual([1, 2, 3].map((n, i) => ctx.withItem(n, i).render(template)), [2, 4, 6])
  t.deepEqual(
    [1, 2].map((n, i) => ctx.withItem(n, i).renderJson(input)),
    [{ doubled: 2, at: 0 }, { doubled: 4, at: 1 }],
  )
  t.false(input.isStatic)
  t.true(new JsonTemplate({ a: [1, 'x'] }).isStatic)
})

test('renderJson renders every string deep inside a structure and keeps types', (t) => {
  const ctx = sample().withItem({ url: 'https://a' }, 0)
  const out = ctx.renderJson({
    url: '{{ item.url }}',
    page: '{{ index + 1 }}',
    headers: { auth: 'Bearer {{ system.run_id }}', static: 'x' },
    list: ['{{ input.urls | length }}', 'n={{ input.n }}', 7, null, true],
    all: '{{ input.urls }}',
  })
  t.deepEqual(out, {
    url: 'https://a',
    page: 1,
    headers: { auth: 'Bearer run-1', static: 'x' },
    list: [3, 'n=3', 7, null, true],
    all: ['a', 'b', 'c'],
  })
  t.is(ctx.renderJson('{{ input.n }}'), 3)
  t.is(ctx.renderJson(5), 5)
})

test('errors are ExpressionErrors with kind, template and position', (t) => {
  const ctx = sample()
  const syntax = t.throws(() => ctx.render('Hello {{ input.n + }}'), { instanceOf: ExpressionError })
  t.is(syntax?.code, 'ARCFLOW_EXPRESSION')
  t.is(syntax?.kind, 'syntax')
  t.is(syntax?.template, 'Hello {{ input.n + }}')
  t.is(syntax?.line, 1)
  t.is(typeof syntax?.column, 'number')

  const type = t.throws(() => ctx.render('  {{ input.n + "x" }}'), { instanceOf: ExpressionError })
  t.is(type?.kind, 'type')
  t.is(type?.column, 6)
  t.deepEqual(type?.range, [5, 18])

  const second = t.throws(() => ctx.render('line one\n{{ nope( }}'), { instanceOf: ExpressionError })
  t.is(second?.line, 2)

  const nested = t.throws(() => ctx.renderJson({ headers: { auth: '{{ vars. }}' } }), { instanceOf: ExpressionError })
  t.is(nested?.path, 'headers.auth')
  t.regex(nested?.message ?? '', /^headers\.auth: syntax error/)

  const unknownFilter = t.throws(() => ctx.render('{{ 1 | frobnicate }}'), { instanceOf: ExpressionError })
  t.regex(unknownFilter?.detail ?? '', /unknown filter/)
  t.true(unknownFilter?.cause instanceof Error)
})

test('strict mode makes undefined names errors; lenient mode gives null', (t) => {
  const ctx = sample()
  t.is(ctx.render('{{ vars.missing.deeper }}'), null)
  t.is(ctx.render('x{{ vars.missing }}y'), 'xy')
  for (const source of ['{{ vars.missing.deeper }}', '{{ vars.missing }}', 'x{{ nothing }}y']) {
    const error = t.throws(() => ctx.render(source, { strict: true }), { instanceOf: ExpressionError })
    t.is(error?.kind, 'undefined', source)
  }
  t.is(ctx.render('{{ vars.missing | default(1) }}', { strict: true }), 1)
})

test('a runaway template runs out of fuel instead of hanging', (t) => {
  const ctx = sample()
  const error = t.throws(
    () => ctx.render('{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}'),
    { instanceOf: ExpressionError },
  )
  t.is(error?.kind, 'out_of_fuel')
})

test('templates have no access to the environment, files or processes', (t) => {
  const ctx = sample()
  t.throws(() => ctx.render('{% include "/etc/passwd" %}'), { instanceOf: ExpressionError })
  t.throws(() => ctx.render('{% import "x" as y %}'), { instanceOf: ExpressionError })
  t.is(ctx.render('{{ env }}'), null)
  t.is(ctx.render('{{ process }}'), null)
  t.throws(() => ctx.render('{{ "".__class__ }}', { strict: true }), { instanceOf: ExpressionError })
})

// Issue 17.8 and 17.9: each hostile template runs in a child node whose
// address space is capped (1 GiB of heap beyond node's own reservations),
// and must end with an ExpressionError, never a signal or an abort.
function inCappedChild(script: string): { status: number | null; signal: string | null; out: string } {
  const dist = JSON.stringify(require.resolve('../dist/index.js'))
  const code = `const a = require(${dist}); try { ${script}; console.log('ok') } catch (e) { console.log(e.code + ':' + (e.kind ?? e.message)) }`
  const r = spawnSync('sh', ['-c', 'ulimit -v 4000000; exec "$0" -e "$1"', process.execPath, code], { encoding: 'utf8', timeout: 120_000 })
  return { status: r.status, signal: r.signal, out: `${r.stdout ?? ''}`.trim() + `${r.stderr ?? ''}`.trim() + (r.error ? ` (${r.error.message})` : '') }
}

test('long expressions crash the parser (17.8)', (t) => {
  for (const source of [
    "'{{ 1' + ' + 1'.repeat(25000) + ' }}'",
    "'{{ 1' + '~1'.repeat(20000) + ' }}'",
    "'{{ 1' + ' | string'.repeat(25000) + ' }}'",
    "'{{ ' + 'not '.repeat(25000) + '1 }}'",
    "'{{ ' + '-'.repeat(25000) + '1 }}'",
    "'{{ a' + '.a'.repeat(25000) + ' }}'",
  ]) {
    const r = inCappedChild(`a.compile(${source})`)
    t.is(r.status, 0, `${source}: ${r.signal} ${r.out}`)
    t.is(r.out, 'ARCFLOW_EXPRESSION:limit', source)
  }
  const r = inCappedChild(
    `a.loadWorkflow({ name: 'w', tasks: { s: { action: 'x', input: { v: '{{ 1' + ' + 1'.repeat(25000) + ' }}' } } } })`,
  )
  t.is(r.status, 0, `${r.signal} ${r.out}`)
  t.regex(r.out, /^ARCFLOW_WORKFLOW_INVALID:[^]*limit error in template: expression nests deeper/)
})

test('fuel does not stop memory-heavy runaways (17.9)', (t) => {
  // JavaScript expressions the child evaluates: a long template built there,
  // since one argument of a process is at most 128 KiB
  for (const source of [
    "'{{ [[0] * 10000] * 10000 }}'",
    "'{{ [[0] * 100000000] * 100000000 }}'",
    "'{{ input.list * input.n }}'",
    `"{{ input.list * input.n ~ '' }}"`,
    "'{{ (input.list * input.n) | length }}'",
    "'{{ input.list * input.n == [] }}'",
    "'{% set a = input.list %}' + '{% set a = a + a %}'.repeat(40) + '{{ a | length }}'",
    "'{% set a = 0 %}' + '{% set a = [a] %}'.repeat(30000) + '{{ a }}'",
  ]) {
    const r = inCappedChild(`new a.WorkflowContext({ input: { list: [[1, 2, 3, 4]], n: 100000000 } }).render(${source})`)
    t.is(r.status, 0, `${source}: ${r.signal} ${r.out}`)
    t.is(r.out, 'ARCFLOW_EXPRESSION:limit', source)
  }
  const doubling = '{% set ns = namespace(l=[1]) %}{% for i in range(40) %}{% set ns.l = ns.l + ns.l %}{% endfor %}{{ ns.l | length }}'
  const r = inCappedChild(`new a.WorkflowContext({}).render(${JSON.stringify(doubling)})`)
  t.is(r.status, 0, `${r.signal} ${r.out}`)
  t.regex(r.out, /^ARCFLOW_EXPRESSION:/)
})
