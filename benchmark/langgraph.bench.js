// LangGraph.js (@langchain/langgraph, no checkpointer) running the engine
// suites' workloads, in a process of its own: loading it turns on
// AsyncLocalStorage, which makes every promise in the process dearer and
// would skew arcflow's figures beside it. Its Send fan-out copies each
// Send's plain-object payload (here the ~1 MB context) per item, so 1,000
// items take seconds per run; 10,000 would take minutes, 100,000 hours.
'use strict'
// one abort listener per running task: over 10 in flight Node warns
require('node:events').setMaxListeners(0)
const langgraph = require('./peers/langgraph.js')
const w = require('./engine-workloads.js')

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const { b, folder, configure } = w
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'arcflow-bench-lg-'))
const chain10Durable = langgraph.durableChain(path.join(dir, 'checkpoints.db'))

b.suite(
  'langgraph',
  configure(2),
  b.add('LangGraph.js 10-node chain', async () => { await langgraph.chain10(0) }),
  b.add('LangGraph.js one-node invoke', async () => { await langgraph.one(0) }),
  b.add('LangGraph.js 10-node chain, SqliteSaver checkpointer', async () => { await chain10Durable(0) }),
  b.add('LangGraph.js Send fan-out, 1,000 items', async () => { await langgraph.fanOut(w.items1k, w.catalog, { maxConcurrency: 64 }) }),
  b.cycle(),
  b.save({ file: 'langgraph', folder, format: 'json', details: true }),
).then(() => fs.rmSync(dir, { recursive: true, force: true }))
