// The engine suites' workloads, shared by benchmark/engine-*.bench.js (one
// process per suite, so that one suite's heap does not skew the next):
// - a 10-task chain of trivial actions (per-task overhead), beside a plain
//   async-function chain (the floor) and LangGraph.js (the peer the engine
//   issue names);
// - a one-task run, start to result;
// - with-items over 1,000 / 10,000 / 100,000 items reading a ~1 MB
//   context (LangGraph: a `Send` per item carrying the same context).
'use strict'
const path = require('node:path')
const b = require('benny')
const { Engine } = require('../dist/index.js')
const { taskResult } = require('./fixtures.js')

const folder = path.join(__dirname, 'results')
const configure = (maxTime) => b.configure({ cases: { minSamples: 5, maxTime } })

const engine = new Engine().action('inc', async (n) => n + 1).action('item', async ({ n }) => n + 1)
const tasks = {}
for (let i = 0; i < 10; i++) tasks[`t${i}`] = { action: 'inc', input: i === 0 ? '{{ input }}' : `{{ tasks.t${i - 1}.result }}`, ...(i < 9 ? { next: { do: `t${i + 1}` } } : {}) }
const chain = engine.workflow({ name: 'chain', tasks, output: '{{ tasks.t9.result }}' })
const one = engine.workflow({ name: 'one', tasks: { t: { action: 'inc', input: '{{ input }}' } }, output: '{{ tasks.t.result }}' })

// ~1 MB of JSON: 100 task results of ~10 KB. In arcflow it is a workflow
// variable (compiled once, shared by every run and every item); each item
// reads a field of it, as LangGraph's node reads it from its Send payload.
const catalog = { customers: Array.from({ length: 100 }, (_, i) => taskResult(i)) }
const catalogBytes = JSON.stringify(catalog).length
const fan = engine.workflow({
  name: 'fan',
  vars: { catalog },
  tasks: {
    each: {
      action: 'item',
      with: { items: '{{ input }}', concurrency: 64 },
      input: { n: '{{ item }}', region: '{{ vars.catalog.customers[0].rows[0].region }}' },
    },
  },
  output: '{{ tasks.each.result | length }}',
})
const items = (n) => Array.from({ length: n }, (_, i) => i)
const items1k = items(1_000)
const items10k = items(10_000)
const items100k = items(100_000)

const inc = async (n) => n + 1
async function plainChain(n) {
  for (let i = 0; i < 10; i++) n = await inc(n)
  return n
}

module.exports = { b, folder, configure, engine, chain, one, fan, catalog, catalogBytes, items1k, items10k, items100k, plainChain }
