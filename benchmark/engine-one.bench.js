// A one-task run, start to result, beside LangGraph.js's one-node invoke.
'use strict'
const w = require('./engine-workloads.js')

const { b, folder, configure, engine } = w

b.suite(
  'engine-one',
  configure(2),
  b.add('arcflow one-task run, start to result', async () => { await engine.run(w.one, 0) }),
  b.cycle(),
  b.save({ file: 'engine-one', folder, format: 'json', details: true }),
)
