// Per-task overhead: a 10-task chain of trivial actions, beside a plain
// async-function chain (LangGraph.js runs the same chain in
// langgraph.bench.js: loading it turns on AsyncLocalStorage, which makes
// every promise in its process dearer, so it gets a process of its own).
'use strict'
const w = require('./engine-workloads.js')

const { b, folder, configure, engine } = w

b.suite(
  'engine-chain',
  configure(2),
  b.add('plain async chain, 10 steps', async () => { await w.plainChain(0) }),
  b.add('arcflow 10-task chain', async () => { await engine.run(w.chain, 0) }),
  b.cycle(),
  b.save({ file: 'engine-chain', folder, format: 'json', details: true }),
)
