// arcflow's workers on PostgreSQL (issue 13), measured as the peers are in
// queue-peers.bench.js (same cluster settings: fsync on, a fresh database
// per case; same sizes, queue/settings.js):
// - one-task runs: bulk enqueue, drain by 1 and by 2 worker processes
//   (concurrency 64 each), transactions per run, wake-up p50/p99;
// - 10-task chain runs, durable `batched`: 2,000 runs (20,000 task
//   executions) drained by one worker process: task executions persisted
//   per second and transactions per task;
// - takeover: a worker holding a run is killed (kill -9); the time until
//   the run's task starts again on another worker, beside the lease.
// Without the queue API (not merged yet) it saves results/queue-arcflow.json
// saying why it is not available, and exits cleanly.
'use strict'
const path = require('node:path')
const arcflow = require('./queue/arcflow.js')
const { save, record, percentile } = require('./queue/results.js')
const settings = require('./queue/settings.js')

const spec = (config) => ({ module: path.join(__dirname, 'queue', 'arcflow.js'), config })
const LEASE_MS = 2_000
const TAKEOVERS = 3

/** 2,000 chain runs (jobs / 10, so as many task executions as the drains have jobs), one worker process. */
async function chains(cluster, measure) {
  const { drain } = measure
  const db = await cluster.freshDatabase('arcflow_chain')
  const s = spec({ workflow: 'chain' })
  const adapter = arcflow.create(s.config)
  await adapter.install(db.url)
  const runs = Math.max(1, Math.round(settings.jobs / 10))
  const producer = await adapter.producer(db.url)
  try {
    await producer.bulk(Array.from({ length: runs }, (_, n) => ({ n })))
  } finally {
    await producer.close()
  }
  // the workers count runs (the first task is the job); each run is 10 task executions
  const d = await drain(cluster, db, s, adapter, 1, runs)
  const tasks = runs * 10
  console.log(`${adapter.label}: ${Math.round(tasks / d.seconds).toLocaleString('en-US')} task executions persisted per second, ${(d.transactions / tasks).toFixed(4)} transactions per task`)
  return record(`${adapter.label}: ${runs.toLocaleString('en-US')} runs (${tasks.toLocaleString('en-US')} tasks) drained by 1 worker process, until committed`, [d.seconds / tasks], {
    queue: adapter.label, kind: 'chain', processes: 1, runs, tasks, tasksPerSecond: tasks / d.seconds, transactionsPerTask: d.transactions / tasks,
  })
}

/** kill -9 of the worker holding a run -> the run's task started on the other worker, `TAKEOVERS` times. */
async function takeovers(cluster, measure) {
  const { spawnWorkers } = require('./queue/workers.js')
  const { within, sleep, now } = measure
  const db = await cluster.freshDatabase('arcflow_takeover')
  const s = spec({ workflow: 'one', lease: LEASE_MS })
  const adapter = arcflow.create(s.config)
  await adapter.install(db.url)
  const producer = await adapter.producer(db.url)
  const samples = []
  try {
    for (let i = 0; i < TAKEOVERS; i++) {
      const [holder, taker] = await spawnWorkers(s, db.url, 2)
      try {
        await holder.go()
        const held = new Promise((resolve) => holder.once('first', resolve))
        await producer.one({ hold: true })
        await within(held, 30_000, 'the run to start on the first worker')
        // started only now, so that the run is the holder's
        await taker.go()
        const taken = new Promise((resolve) => taker.once('first', resolve))
        // a kill at any point of the renewal cycle (renewed every third of the lease)
        await sleep(Math.random() * LEASE_MS)
        const killed = now()
        await holder.kill('SIGKILL')
        const started = await within(taken, 20 * LEASE_MS, 'another worker to take the run over')
        samples.push(Number(started - killed))
        taker.release()
        await taker.stop()
      } finally {
        await Promise.all([holder.kill('SIGKILL'), taker.kill('SIGKILL')])
      }
    }
  } finally {
    await producer.close()
  }
  const sorted = [...samples].sort((a, b) => a - b)
  const ms = (ns) => ns / 1e6
  console.log(`arcflow takeover after kill -9: ${sorted.map((ns) => `${ms(ns).toFixed(0)} ms`).join(', ')} with a lease of ${LEASE_MS} ms`)
  return record(`arcflow: takeover after kill -9, lease ${LEASE_MS.toLocaleString('en-US')} ms`, sorted.map((ns) => ns / 1e9), {
    queue: 'arcflow', kind: 'takeover', leaseMs: LEASE_MS, p50Ms: ms(percentile(sorted, 50)), maxMs: ms(sorted[sorted.length - 1]),
  })
}

async function main() {
  const reason = arcflow.unavailable()
  if (reason) {
    save('queue-arcflow', [], { notAvailable: reason })
    console.log(`arcflow queue: not available: ${reason}`)
    return
  }
  const { startCluster } = require('./support/postgres.js')
  const measure = require('./queue/measure.js')
  const cluster = await startCluster()
  const results = []
  const one = await cluster.freshDatabase('arcflow_one')
  results.push(...(await measure.measureQueue(cluster, one, spec({ workflow: 'one' }), settings)))
  results.push(await chains(cluster, measure))
  results.push(await takeovers(cluster, measure))
  const file = save('queue-arcflow', results, { postgres: cluster.version, fsync: 'on', synchronousCommit: 'on', settings })
  cluster.stop()
  console.log(`Wrote ${path.relative(process.cwd(), file)}`)
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
