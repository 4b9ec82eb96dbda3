// What one task costs PostgreSQL: rows, WAL bytes and transactions per task
// execution, for 10-task chain runs enqueued in bulk and drained by a worker
// (durability `batched`, fsync on). The README's "Scaling" section derives
// from these how many workers one database serves.
//
//   node benchmark/queue/scaling.js [runs]
'use strict'
const { startCluster } = require('../support/postgres')

const RUNS = Number(process.argv[2] ?? 2000)
const TASKS_PER_RUN = 10

function chainTasks() {
  const tasks = { t0: { action: 'inc', input: 0, next: { do: 't1' } } }
  for (let i = 1; i < TASKS_PER_RUN; i++) {
    tasks[`t${i}`] = { action: 'inc', input: `{{ tasks.t${i - 1}.result }}`, ...(i < TASKS_PER_RUN - 1 ? { next: { do: `t${i + 1}` } } : {}) }
  }
  return tasks
}

/** The database's counters: committed transactions, rows written, WAL position. */
async function counters(cluster, name) {
  const { rows } = await cluster.query(
    `SELECT xact_commit::text AS commits, (tup_inserted + tup_updated + tup_deleted)::text AS rows,
            pg_current_wal_lsn()::text AS lsn, pg_database_size($1)::text AS size
       FROM pg_stat_database WHERE datname = $1`,
    [name],
  )
  return rows[0]
}

async function walBytes(cluster, from, to) {
  const { rows } = await cluster.query('SELECT pg_wal_lsn_diff($2::pg_lsn, $1::pg_lsn)::text AS n', [from, to])
  return Number(rows[0].n)
}

async function main() {
  const { Engine } = require('../../dist/index.js')
  const cluster = await startCluster()
  try {
    const { url, name } = await cluster.freshDatabase('scaling')
    const store = `${url}?schema=arcflow`
    const producer = new Engine({ store })
    const inputs = Array.from({ length: RUNS }, (_, i) => i)
    const enqueued = await producer.enqueueMany('chain', inputs, { queue: 'default' })
    await producer.close()
    // stats settle (they are sent by the backends at transaction end, reported within ~0.5 s)
    await new Promise((resolve) => setTimeout(resolve, 1000))
    const before = await counters(cluster, name)

    const engine = new Engine({ store, durability: 'batched' })
    engine.action('inc', async (n) => n + 1)
    engine.workflow({ name: 'chain', tasks: chainTasks(), output: `{{ tasks.t${TASKS_PER_RUN - 1}.result }}` })
    const worker = engine.work({ queues: ['default'], concurrency: 64 })
    const started = process.hrtime.bigint()
    for (let i = 0; i < 600; i++) {
      if (worker.stats().completed >= enqueued.length) break
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9
    const completed = worker.stats().completed
    await worker.stop({ drain: true })
    await engine.close()
    await new Promise((resolve) => setTimeout(resolve, 1000))
    const after = await counters(cluster, name)

    const tasks = completed * TASKS_PER_RUN
    const commits = Number(after.commits) - Number(before.commits)
    const rows = Number(after.rows) - Number(before.rows)
    const wal = await walBytes(cluster, before.lsn, after.lsn)
    const result = {
      runs: completed,
      tasks,
      seconds: Number(seconds.toFixed(2)),
      tasksPerSecond: Math.round(tasks / seconds),
      transactionsPerTask: Number((commits / tasks).toFixed(4)),
      rowsPerTask: Number((rows / tasks).toFixed(2)),
      walBytesPerTask: Math.round(wal / tasks),
      storedBytesPerTask: Math.round((Number(after.size) - Number(before.size)) / tasks),
    }
    console.log(JSON.stringify(result, null, 2))
  } finally {
    await cluster.stop()
  }
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
