// A one-task run, start to result, beside LangGraph.js's one-node invoke.
'use strict'
const langgraph = require('./peers/langgraph.js')
const w = require('./engine-workloads.js')

const { b, folder, configure, engine } = w

b.suite(
  'engine-one',
  configure(2),
  b.add('arcflow one-task run, start to result', async () => { await engine.run(w.one, 0) }),
  b.add('LangGraph.js one-node invoke', async () => { await langgraph.one(0) }),
  b.cycle(),
  b.save({ file: 'engine-one', folder, format: 'json', details: true }),
)
