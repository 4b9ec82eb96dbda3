// Wake-up alone (issue 13): single enqueues on one idle worker process,
// enqueue -> job started, as queue-arcflow.bench.js measures it
// (QUEUE_BENCH_WAKE samples, 200 by default).
//   node benchmark/queue/wake.js
'use strict'
const path = require('node:path')
const arcflow = require('./arcflow.js')
const settings = require('./settings.js')
const { wakeUps } = require('./measure.js')
const { startCluster } = require('../support/postgres.js')

async function main() {
  const cluster = await startCluster()
  try {
    const db = await cluster.freshDatabase('wake')
    const spec = { module: path.join(__dirname, 'arcflow.js'), config: { workflow: 'one' } }
    const adapter = arcflow.create(spec.config)
    await adapter.install(db.url)
    const ns = (await wakeUps(db, spec, adapter, settings.wakeSamples)).sort((a, b) => a - b)
    const at = (p) => ns[Math.min(ns.length - 1, Math.ceil((p / 100) * ns.length) - 1)] / 1e6
    console.log(`wake-up over ${ns.length} enqueues: p50 ${at(50).toFixed(2)} ms, p90 ${at(90).toFixed(2)} ms, p99 ${at(99).toFixed(2)} ms, max ${at(100).toFixed(2)} ms`)
  } finally {
    cluster.stop()
  }
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
