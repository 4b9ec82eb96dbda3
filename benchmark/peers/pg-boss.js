// pg-boss (a dev dependency, ESM only) as a queue peer of arcflow's
// workers: the adapter benchmark/queue/ drives (see queue/adapter.md).
//
// Configured as its documentation says for throughput and latency:
// workers fetch batches of 2,000 jobs (`batchSize`; a batch handler,
// completed in one statement) and fetch again at once while batches come
// back full (`burstWhenBatchFull`), and the queue is woken by LISTEN/NOTIFY
// (`useListenNotify` with a `notify` queue) rather than by its 2-second
// poll. Everything else keeps pg-boss's defaults (its supervisor and
// maintenance included: they are part of what a pg-boss worker costs).
'use strict'
const { installedVersion } = require('../support/installed.js')

const version = installedVersion('pg-boss')
const QUEUE = 'bench'
const BATCH = 2_000

async function boss(url, options) {
  const { PgBoss } = await import('pg-boss')
  const b = new PgBoss({ connectionString: url, ...options })
  b.on('error', (e) => console.error(`pg-boss: ${e.message}`))
  await b.start()
  return b
}

function create() {
  return {
    label: `pg-boss ${version}, batch ${BATCH.toLocaleString('en-US')}, LISTEN/NOTIFY`,
    async install(url) {
      const b = await boss(url, { supervise: false, schedule: false })
      try {
        await b.createQueue(QUEUE, { notify: true })
      } finally {
        await b.stop({ graceful: false })
      }
    },
    async producer(url) {
      const b = await boss(url, { supervise: false, schedule: false, migrate: false })
      return {
        // one multi-row INSERT for the whole list
        bulk: (payloads) => b.insert(QUEUE, payloads.map((data) => ({ data }))),
        one: (payload) => b.send(QUEUE, payload),
        close: () => b.stop({ graceful: false }),
      }
    },
    remainingSql: `SELECT count(*)::int AS n FROM pgboss.job WHERE name = '${QUEUE}' AND state <> 'completed'`,
    async work(url, onJob) {
      const b = await boss(url, { useListenNotify: true, migrate: false })
      await b.work(QUEUE, { batchSize: BATCH, burstWhenBatchFull: true }, async (jobs) => {
        for (const job of jobs) onJob(job.data)
      })
      return { stop: () => b.stop({ graceful: true }) }
    },
  }
}

module.exports = { create }
