// Rendering a task input and evaluating a condition per item, compiled once
// (and through the string / object caches), beside nunjucks rendering the
// same templates against the same data as a plain JS object.
'use strict'
const assert = require('node:assert/strict')
const path = require('node:path')
const b = require('benny')
const nunjucks = require('nunjucks')
const { WorkflowContext, JsonTemplate, compileCondition } = require('../dist/index.js')
const { taskResult } = require('./fixtures.js')

// A task input with exactly 5 template strings (method is static).
const INPUT = {
  url: '{{ item.url }}',
  method: 'GET',
  headers: { auth: 'Bearer {{ vars.token }}' },
  retries: '{{ input.retries }}',
  tag: '{{ item.tag | upper }}',
  page: '{{ index + 1 }}',
}
const CONDITION = 'tasks.fetch.result.rows | length > 2 and vars.total >= 10'

const data = {
  input: { retries: 3 },
  vars: { token: 'secret-token', total: 12 },
  tasks: { fetch: { result: taskResult(0) } },
}
const item = { url: 'https://api.example.com/items/7', tag: 'beta' }
const index = 4

const base = new WorkflowContext({ input: data.input, vars: data.vars })
base.setTaskResult('fetch', data.tasks.fetch.result)
const ctx = base.withItem(item, index)
const inputTemplate = new JsonTemplate(INPUT)
const condition = compileCondition(`{{ ${CONDITION} }}`)
const conditionSource = `{{ ${CONDITION} }}`

// nunjucks escapes HTML by default; arcflow does not, so neither should it here.
const env = new nunjucks.Environment(null, { autoescape: false })
const nj = Object.fromEntries(
  Object.entries({ url: INPUT.url, auth: INPUT.headers.auth, retries: INPUT.retries, tag: INPUT.tag, page: INPUT.page })
    .map(([key, source]) => [key, nunjucks.compile(source, env)]),
)
const njCondition = nunjucks.compile(`{% if ${CONDITION} %}true{% endif %}`, env)
const njContext = { ...data, item, index }
// nunjucks renders strings only (arcflow keeps `retries` and `page` numbers).
const renderNunjucks = () => ({
  url: nj.url.render(njContext),
  method: INPUT.method,
  headers: { auth: nj.auth.render(njContext) },
  retries: nj.retries.render(njContext),
  tag: nj.tag.render(njContext),
  page: nj.page.render(njContext),
})

// Both sides must compute the same thing, or the comparison means nothing.
const expected = { url: item.url, method: 'GET', headers: { auth: 'Bearer secret-token' }, retries: 3, tag: 'BETA', page: 5 }
assert.deepEqual(ctx.renderJson(inputTemplate), expected)
assert.deepEqual(ctx.renderJson(INPUT), expected)
assert.deepEqual(renderNunjucks(), { ...expected, retries: '3', page: '5' })
assert.equal(ctx.evaluate(condition), true)
assert.equal(ctx.evaluate(conditionSource), true)
assert.equal(njCondition.render(njContext), 'true')

let sink // keeps results alive so nothing is optimised away

module.exports = b.suite(
  'expression',
  b.configure({ cases: { minSamples: 5, maxTime: 1 }, minDisplayPrecision: 2 }),
  b.add('renderJson JsonTemplate (precompiled)', () => { sink = ctx.renderJson(inputTemplate) }),
  b.add('renderJson plain object (cached by identity)', () => { sink = ctx.renderJson(INPUT) }),
  b.add('nunjucks 5 fields (precompiled)', () => { sink = renderNunjucks() }),
  b.add('evaluate compileCondition (precompiled)', () => { sink = ctx.evaluate(condition) }),
  b.add('evaluate string (cached)', () => { sink = ctx.evaluate(conditionSource) }),
  b.add('nunjucks {% if %}true{% endif %} (precompiled)', () => { sink = njCondition.render(njContext) }),
  b.cycle(),
  b.complete(() => void sink),
  b.save({ file: 'expression', folder: path.join(__dirname, 'results'), format: 'json', details: true }),
)
