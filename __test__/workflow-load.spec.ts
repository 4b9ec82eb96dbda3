import test from 'ava'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

import { JsonTemplate, loadWorkflow, loadWorkflowFile, parseDuration, Template, WorkflowContext, WorkflowError } from '../lib/index'

const example = join(__dirname, '..', 'examples', 'flows', 'fetch-report.yaml')
const text = readFileSync(example, 'utf8')
const actions = ['http.get', 'text.join']

function problems(definition: unknown, options = {}) {
  const error = (() => {
    try {
      loadWorkflow(definition, options)
    } catch (e) {
      return e
    }
    return undefined
  })()
  if (!(error instanceof WorkflowError)) throw new Error(`expected a WorkflowError, got ${String(error)}`)
  return error.problems
}

test('the issue example loads: start tasks, with-items, retry, timeout, transitions, output', (t) => {
  const wf = loadWorkflowFile(example, { actions })
  t.is(wf.name, 'fetch-report')
  t.deepEqual(wf.input, { names: ['urls'] })
  t.deepEqual(wf.start, ['fetch'])
  const fetch = wf.tasks.get('fetch')!
  t.is(fetch.action, 'http.get')
  t.is(fetch.timeoutMs, 5000)
  t.deepEqual(fetch.retry, { count: 3, delayMs: 100, backoff: 'exponential', maxDelayMs: 2000, jitter: 0 })
  t.is(fetch.with?.concurrency, 8)
  t.true(fetch.with?.items instanceof Template)
  t.is(fetch.next.length, 2)
  t.deepEqual(fetch.next.map((n) => n.do), [['summarize'], ['fail']])
  t.is(fetch.next[0].publish[0].name, 'pages')
  t.true(wf.output instanceof JsonTemplate)
  // the compiled templates render against a context
  const ctx = new WorkflowContext({ input: { urls: ['a', 'b'] } })
  t.deepEqual(ctx.render(fetch.with!.items as Template), ['a', 'b'])
  t.deepEqual(ctx.withItem('a', 0).renderJson(fetch.input!), { url: 'a' })
  t.true(ctx.withOutcome({ status: 'succeeded' }).evaluate(fetch.next[0].when!))
})

test('JSON text and a plain object load the same workflow', (t) => {
  const object = { name: 'x', tasks: { a: { action: 'go', next: { do: 'b' } }, b: { action: 'go' } } }
  for (const definition of [object, JSON.stringify(object)]) {
    const wf = loadWorkflow(definition)
    t.deepEqual(wf.start, ['a'])
    t.deepEqual([...wf.tasks.keys()], ['a', 'b'])
  }
})

test('every problem is reported at once, with path, line:column and a hint', (t) => {
  const broken = text
    .replace('do: summarize', 'do: sumarize')
    .replace('backoff: exponential', 'backoff: exponental')
    .replace('timeout: 5s', 'timeout: 5 parsecs')
    .replace('{{ vars.pages }}', '{{ vars.pages | }}')
    .replace('action: text.join', 'action: text.joint\n    retires: 2')
  const error = t.throws(() => loadWorkflow(broken, { actions, file: 'report.yaml' }), { instanceOf: WorkflowError })
  t.is(error?.code, 'ARCFLOW_WORKFLOW_INVALID')
  const byPath = Object.fromEntries(error!.problems.map((p) => [p.path, p]))
  t.deepEqual(Object.keys(byPath).sort(), [
    'tasks.fetch.next[0].do',
    'tasks.fetch.retry.backoff',
    'tasks.fetch.timeout',
    'tasks.summarize.action',
    'tasks.summarize.input.parts',
    'tasks.summarize.retires',
  ])
  t.like(byPath['tasks.fetch.next[0].do'], { message: "unknown task 'sumarize'", hint: "did you mean 'summarize'?", line: 15, column: 13, file: 'report.yaml' })
  t.like(byPath['tasks.fetch.retry.backoff'], { hint: "did you mean 'exponential'?", line: 11 })
  t.like(byPath['tasks.fetch.timeout'], { line: 10, column: 14 })
  t.like(byPath['tasks.summarize.retires'], { line: 20, column: 5 })
  t.like(byPath['tasks.summarize.action'], { message: "action 'text.joint' is not registered", hint: "did you mean 'text.join'?" })
  t.regex(byPath['tasks.summarize.input.parts'].message, /^syntax error in template/)
  t.regex(error!.message, /report\.yaml:15:13: tasks\.fetch\.next\[0\]\.do: unknown task 'sumarize' \(did you mean 'summarize'\?\)/)
})

test('structural mistakes are problems, not crashes', (t) => {
  t.like(problems('just a string')[0], { path: '', message: "a workflow must be an object with 'name' and 'tasks', got string \"just a string\"" })
  t.deepEqual(problems({}).map((p) => p.path).sort(), ['name', 'tasks'])
  t.deepEqual(problems({ name: 'x', tasks: { a: {} } }).map((p) => p.path), ['tasks.a.action'])
  t.deepEqual(problems({ name: 'x', tasks: { a: { action: 'z', next: { do: 'a' } } } }).map((p) => p.path), ['tasks'])
  t.deepEqual(problems({ name: 'x', start: ['nope'], tasks: { a: { action: 'z' } } }).map((p) => p.path), ['start[0]'])
  t.deepEqual(
    problems({ name: 'x', tasks: { a: { action: 'z', join: 2, with: { concurrency: 0 }, retry: { count: -1, jitter: 3 }, continue_on_error: 'yes' } } })
      .map((p) => p.path)
      .sort(),
    ['tasks.a.continue_on_error', 'tasks.a.join', 'tasks.a.retry.count', 'tasks.a.retry.jitter', 'tasks.a.with.concurrency', 'tasks.a.with.items'],
  )
  t.deepEqual(problems({ name: 'x', tasks: { 'bad name': { action: 'z' }, fail: { action: 'z' } } }).map((p) => p.path), ['tasks["bad name"]', 'tasks.fail'])
  // attempt numbers travel packed: a bounded retry count, said clearly
  t.like(problems({ name: 'x', tasks: { a: { action: 'z', retry: { count: 20_000 } } } })[0], { path: 'tasks.a.retry.count', message: "'count' must be an integer from 0 to 10000, got number 20000" })
  t.like(problems({ name: 'x', tasks: { a: { action: 'z', retry: 10_001 } } })[0], { path: 'tasks.a.retry', message: 'at most 10000 retries, got 10001' })
  t.deepEqual(problems({ name: 'x', tasks: { a: { action: 'z', next: [{ when: 'a {{ b }}', do: 7 }] } } }).map((p) => p.path), [
    'tasks.a.next[0].when',
    'tasks.a.next[0].do',
  ])
})

test('YAML syntax errors and duplicate keys carry their position', (t) => {
  const dup = problems('name: x\ntasks:\n  a: {action: b}\n  a: {action: c}\n')
  t.like(dup[0], { line: 4, column: 3 })
  t.regex(dup[0].message, /unique/)
  const syntax = problems('name: x\ntasks: [\n')
  t.true(syntax.length > 0 && syntax.every((p) => typeof p.line === 'number'))
})

test('durations: milliseconds or 250ms, 5s, 2m, 1h', (t) => {
  t.is(parseDuration(250), 250)
  t.is(parseDuration('250ms'), 250)
  t.is(parseDuration('1.5s'), 1500)
  t.is(parseDuration('2m'), 120_000)
  t.is(parseDuration('1h'), 3_600_000)
  for (const bad of ['5', '5 parsecs', -1, Number.NaN, null, '1d']) t.is(typeof parseDuration(bad), 'object', String(bad))
})

test('the shipped JSON Schema accepts the example and rejects what the loader rejects', (t) => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const Ajv2020 = require('ajv/dist/2020') as typeof import('ajv/dist/2020').default
  const schema = require('arcflow/workflow.schema.json') as object
  const check = new Ajv2020({ strict: false }).compile(schema)
  const { parse } = require('yaml') as typeof import('yaml')
  t.true(check(parse(text)), JSON.stringify(check.errors))
  for (const bad of [
    { tasks: { a: { action: 'x' } } },
    { name: 'x', tasks: { a: { action: 'x', retires: 2 } } },
    { name: 'x', tasks: { a: { action: 'x', timeout: '5 parsecs' } } },
    { name: 'x', tasks: { a: { action: 'x', retry: { count: 1, backoff: 'exponental' } } } },
    { name: 'x', tasks: { fail: { action: 'x' } } },
  ]) {
    t.false(check(bad), JSON.stringify(bad))
    t.throws(() => loadWorkflow(bad), { instanceOf: WorkflowError })
  }
})

test('every problem carries a hint', (t) => {
  const broken: unknown[] = [
    42,
    { tasks: {} },
    { name: 'x', vars: 3, start: [], step_limit: 0, input: 7, tasks: { a: 5 } },
    { name: 'x', tasks: { a: { action: 'z', join: 2, with: { concurrency: 0 }, retry: { count: -1, jitter: 3 }, timeout: 'soon', continue_on_error: 'yes' } } },
    { name: 'x', tasks: { a: { action: 'z', next: [{ when: 'a {{ b }}', do: 7, publish: 3 }] } } },
    { name: 'x', tasks: { a: { action: 'z', retry: 'often' } } },
  ]
  let count = 0
  for (const definition of broken) {
    for (const p of problems(definition)) {
      count++
      t.true(typeof p.hint === 'string' && p.hint.length > 0, `${p.path}: ${p.message} has no hint`)
    }
  }
  t.true(count >= 15, `${count} problems checked`)
})
