// Per-task overhead: a 10-task chain of trivial actions, beside a plain
// async-function chain (LangGraph.js runs the same chain in
// langgraph.bench.js: loading it turns on AsyncLocalStorage, which makes
// every promise in its process dearer, so it gets a process of its own).
// Beside it, the same chain metered: each attempt reserves its cost on an
// account and is charged when it ends (the metering issue's goal: <= 0.5 us
// added per task).
'use strict'
const w = require('./engine-workloads.js')
const { Engine } = require('../dist/index.js')

const { b, folder, configure, engine } = w
const metered = new Engine().action('inc', async (n) => n + 1, { cost: 1 })
const tasks = {}
for (let i = 0; i < 10; i++) tasks[`t${i}`] = { action: 'inc', input: i === 0 ? '{{ input }}' : `{{ tasks.t${i - 1}.result }}`, ...(i < 9 ? { next: { do: `t${i + 1}` } } : {}) }
const meteredChain = metered.workflow({ name: 'chain', tasks, output: '{{ tasks.t9.result }}' })
metered.credit('bench', 2 ** 52, { key: 'bench' })

b.suite(
  'engine-chain',
  configure(2),
  b.add('plain async chain, 10 steps', async () => { await w.plainChain(0) }),
  b.add('arcflow 10-task chain', async () => { await engine.run(w.chain, 0) }),
  b.add('arcflow 10-task chain, metered', async () => { await metered.run(meteredChain, 0, { account: 'bench' }) }),
  b.cycle(),
  b.save({ file: 'engine-chain', folder, format: 'json', details: true }),
)
