// The engine's overhead per task, beside a plain async-function chain.
// (LangGraph.js, which the engine issue also names, is not in this suite yet.)
'use strict'
const path = require('node:path')
const b = require('benny')
const { Engine } = require('../dist/index.js')

const engine = new Engine().action('inc', async (n) => n + 1)
const tasks = {}
for (let i = 0; i < 10; i++) tasks[`t${i}`] = { action: 'inc', input: i === 0 ? '{{ input }}' : `{{ tasks.t${i - 1}.result }}`, ...(i < 9 ? { next: { do: `t${i + 1}` } } : {}) }
const chain = engine.workflow({ name: 'chain', tasks, output: '{{ tasks.t9.result }}' })
const one = engine.workflow({ name: 'one', tasks: { t: { action: 'inc', input: '{{ input }}' } }, output: '{{ tasks.t.result }}' })
const fan = engine.workflow({ name: 'fan', tasks: { each: { action: 'inc', with: { items: '{{ input }}', concurrency: 64 }, input: '{{ item }}' } } })
const items1k = Array.from({ length: 1000 }, (_, i) => i)

const inc = async (n) => n + 1
async function plainChain(n) {
  for (let i = 0; i < 10; i++) n = await inc(n)
  return n
}

module.exports = b.suite(
  'engine',
  b.configure({ cases: { minSamples: 5, maxTime: 1 } }),
  b.add('plain async chain, 10 steps', async () => { await plainChain(0) }),
  b.add('arcflow 10-task chain (one run)', async () => { await engine.run(chain, 0) }),
  b.add('arcflow one-task run, start to result', async () => { await engine.run(one, 0) }),
  b.add('arcflow with-items, 1,000 items (one run)', async () => { await engine.run(fan, items1k) }),
  b.cycle(),
  b.save({ file: 'engine', folder: path.join(__dirname, 'results'), format: 'json', details: true }),
)
