// With-items over 1,000 / 10,000 / 100,000 items reading a ~1 MB context
// (LangGraph.js's Send fan-out of the same items is in langgraph.bench.js).
'use strict'
const w = require('./engine-workloads.js')

const { b, folder, configure, engine } = w

console.log(`context for with-items: ${(w.catalogBytes / 2 ** 20).toFixed(2)} MB of JSON`)
b.suite(
  'engine-fanout',
  configure(3),
  b.add('arcflow with-items, 1,000 items', async () => { await engine.run(w.fan, w.items1k) }),
  b.add('arcflow with-items, 10,000 items', async () => { await engine.run(w.fan, w.items10k) }),
  b.add('arcflow with-items, 100,000 items', async () => { await engine.run(w.fan, w.items100k) }),
  b.cycle(),
  b.save({ file: 'engine-fanout', folder, format: 'json', details: true }),
)
