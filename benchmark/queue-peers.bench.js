// arcflow's queue peers on one PostgreSQL of this machine (fsync on, a
// fresh database each): graphile-worker with its defaults and with its
// local queue + batched completion, and pg-boss fetching batches of 2,000,
// each running the same trivial job. Bulk enqueue, drain by 1 and by 2
// worker processes, transactions per job, wake-up p50/p99 (see
// queue/measure.js). The arcflow side is queue-arcflow.bench.js, on its
// own cluster with the same settings. Saved to results/queue-peers.json.
'use strict'
const path = require('node:path')
const { startCluster } = require('./support/postgres.js')
const { measureQueue } = require('./queue/measure.js')
const { save } = require('./queue/results.js')
const settings = require('./queue/settings.js')

const PEERS = [
  { module: path.join(__dirname, 'peers', 'graphile-worker.js'), config: { batched: false }, db: 'graphile_default' },
  { module: path.join(__dirname, 'peers', 'graphile-worker.js'), config: { batched: true }, db: 'graphile_batched' },
  { module: path.join(__dirname, 'peers', 'pg-boss.js'), config: {}, db: 'pgboss' },
]

async function main() {
  const cluster = await startCluster()
  const results = []
  for (const spec of PEERS) {
    const db = await cluster.freshDatabase(spec.db)
    results.push(...(await measureQueue(cluster, db, spec, settings)))
  }
  const file = save('queue-peers', results, { postgres: cluster.version, fsync: 'on', synchronousCommit: 'on', settings })
  cluster.stop()
  console.log(`Wrote ${path.relative(process.cwd(), file)}`)
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
