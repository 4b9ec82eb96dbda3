// The engine's overhead, side by side in one run with a plain async chain
// (the floor) and LangGraph.js (the peer the engine issue names):
// - a 10-task chain of trivial actions (per-task overhead);
// - a one-task run, start to result;
// - with-items over 1,000 / 10,000 / 100,000 items reading a ~1 MB
//   context (LangGraph: a `Send` per item carrying the same context).
'use strict'
const path = require('node:path')
const b = require('benny')
const { Engine } = require('../dist/index.js')
const langgraph = require('./peers/langgraph.js')
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

async function main() {
  console.log(`context for with-items: ${(catalogBytes / 2 ** 20).toFixed(2)} MB of JSON`)
  await b.suite(
    'engine-chain',
    configure(2),
    b.add('plain async chain, 10 steps', async () => { await plainChain(0) }),
    b.add('arcflow 10-task chain', async () => { await engine.run(chain, 0) }),
    b.add('LangGraph.js 10-node chain', async () => { await langgraph.chain10(0) }),
    b.cycle(),
    b.save({ file: 'engine-chain', folder, format: 'json', details: true }),
  )
  await b.suite(
    'engine-one',
    configure(2),
    b.add('arcflow one-task run, start to result', async () => { await engine.run(one, 0) }),
    b.add('LangGraph.js one-node invoke', async () => { await langgraph.one(0) }),
    b.cycle(),
    b.save({ file: 'engine-one', folder, format: 'json', details: true }),
  )
  const context = catalog
  await b.suite(
    'engine-fanout',
    configure(3),
    b.add('arcflow with-items, 1,000 items', async () => { await engine.run(fan, items1k) }),
    b.add('arcflow with-items, 10,000 items', async () => { await engine.run(fan, items10k) }),
    b.add('arcflow with-items, 100,000 items', async () => { await engine.run(fan, items100k) }),
    b.add('LangGraph.js Send fan-out, 1,000 items', async () => { await langgraph.fanOut(items1k, context, { maxConcurrency: 64 }) }),
    b.cycle(),
    b.save({ file: 'engine-fanout', folder, format: 'json', details: true }),
  )
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
