// Templates that read tasks or variables which never exist are load
// problems (with their path and a did-you-mean hint), not a silent null.
import test from 'ava'

import { compile, Engine, JsonTemplate, loadWorkflow, WorkflowError } from '../lib/index'

function problems(definition: unknown) {
  try {
    loadWorkflow(definition)
  } catch (e) {
    if (e instanceof WorkflowError) return e.problems
    throw e
  }
  throw new Error('expected a WorkflowError')
}

test('output templates that read tasks which never exist give null silently: a load error with did-you-mean', (t) => {
  const found = problems({
    name: 'report',
    tasks: { fetch: { action: 'http.get', next: { do: 'summarize' } }, summarize: { action: 'text.join' } },
    output: { summary: '{{ tasks.sumarize.result }}', raw: "{{ task('fetsh').result }}" },
  })
  const byPath = Object.fromEntries(found.map((p) => [p.path, p]))
  t.like(byPath['output.summary'], { message: "the template reads task 'sumarize', which the workflow does not have", hint: "did you mean 'summarize'?" })
  t.like(byPath['output.raw'], { message: "the template reads task 'fetsh', which the workflow does not have", hint: "did you mean 'fetch'?" })
  t.is(found.length, 2)
  const none = problems({ name: 'r', tasks: { fetch: { action: 'x' } }, output: '{{ tasks.summarizer_of_everything.result }}' })
  t.like(none[0], { path: 'output', hint: 'its tasks are fetch' })
})

test('every template is checked: inputs, when, publish, vars, with.items, retry.when; vars must be declared or published', (t) => {
  const found = problems({
    name: 'all',
    vars: { base: 10, derived: '{{ vars.bse + 1 }}' },
    tasks: {
      a: {
        action: 'x',
        input: { n: '{{ tasks.b.result }}', deep: ['{{ vars.total }}', "{{ task('zz') }}"] },
        with: { items: '{{ tasks.aa.result }}' },
        retry: { count: 1, when: "{{ task('c').error }}" },
        next: [{ when: '{{ tasks.bb.result > 1 }}', publish: { total: '{{ tasks.cc.result }}' }, do: 'b' }],
      },
      b: { action: 'x', input: '{{ vars.totl }}' },
    },
  })
  t.deepEqual(
    found.map((p) => `${p.path}: ${p.message} (${p.hint})`).sort(),
    [
      "tasks.a.input.deep[1]: the template reads task 'zz', which the workflow does not have (did you mean 'a'?)",
      "tasks.a.next[0].publish.total: the template reads task 'cc', which the workflow does not have (did you mean 'a'?)",
      "tasks.a.next[0].when: the template reads task 'bb', which the workflow does not have (did you mean 'b'?)",
      "tasks.a.retry.when: the template reads task 'c', which the workflow does not have (did you mean 'a'?)",
      "tasks.a.with.items: the template reads task 'aa', which the workflow does not have (did you mean 'a'?)",
      "tasks.b.input: the template reads variable 'totl', which nothing sets (did you mean 'total'?)",
      "vars.derived: the template reads variable 'bse', which nothing sets (did you mean 'base'?)",
    ].sort(),
  )
})

test('names that exist load, and a run reads them', async (t) => {
  const engine = new Engine().action('echo', async (input: unknown) => input)
  const wf = engine.workflow({
    name: 'fine',
    vars: { base: 1 },
    tasks: { a: { action: 'echo', input: '{{ vars.base }}', next: { publish: { got: "{{ task('a').result }}" }, do: 'b' } }, b: { action: 'echo', input: '{{ vars.got + tasks.a.result }}' } },
    output: '{{ tasks.b.result }}',
  })
  t.is(await engine.run(wf), 2)
})

test('templates list what they read by name', (t) => {
  t.deepEqual(compile("{{ tasks.fetch.result }} {{ task('sum') }} {{ vars.n }}").references(), { path: '', tasks: ['fetch', 'sum'], vars: ['n'] })
  t.deepEqual(new JsonTemplate({ a: { b: '{{ vars.x }}' }, c: 'plain' }).references(), [{ path: 'a.b', tasks: [], vars: ['x'] }])
})
