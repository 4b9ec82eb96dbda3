// graphile-worker (a dev dependency) as a queue peer of arcflow's workers:
// the adapter benchmark/queue/ drives (see queue/adapter.md).
//
// Both configurations use the concurrency of graphile-worker's documented
// performance run (24 jobs at once, a pool of 25 connections);
// `batched` adds what its performance page turns on for throughput: the
// local queue (500 jobs fetched and locked at once) and batched completion
// and failure (`completeJobBatchDelay` / `failJobBatchDelay` 0: a batch of
// whatever is ready at the next tick).
'use strict'
const { run, makeWorkerUtils, Logger } = require('graphile-worker')
const { installedVersion } = require('../support/installed.js')

const version = installedVersion('graphile-worker')

const TASK = 'bench'
// graphile-worker logs every job at info level: keep errors only
const quiet = new Logger(() => (level, message) => {
  if (level === 'error') console.error(`graphile-worker: ${message}`)
})

function create({ batched }) {
  const preset = batched ? { worker: { localQueue: { size: 500 }, completeJobBatchDelay: 0, failJobBatchDelay: 0 } } : undefined
  const utils = (url) => makeWorkerUtils({ connectionString: url, logger: quiet })
  return {
    label: `graphile-worker ${version}, ${batched ? 'local queue + batched completion' : 'default'}`,
    async install(url) {
      const u = await utils(url)
      try {
        await u.migrate()
      } finally {
        await u.release()
      }
    },
    async producer(url) {
      const u = await utils(url)
      return {
        // one statement for the whole list (graphile_worker.add_jobs)
        bulk: (payloads) => u.addJobs(payloads.map((payload) => ({ identifier: TASK, payload }))),
        one: (payload) => u.addJob(TASK, payload),
        close: () => u.release(),
      }
    },
    // completed jobs are deleted; failed ones would stay (and count here)
    remainingSql: 'SELECT count(*)::int AS n FROM graphile_worker._private_jobs',
    async work(url, onJob) {
      const runner = await run({
        connectionString: url,
        concurrency: 24,
        maxPoolSize: 25,
        noHandleSignals: true,
        logger: quiet,
        taskList: { [TASK]: async (payload) => onJob(payload) },
        preset,
      })
      return { stop: () => runner.stop() }
    },
  }
}

module.exports = { create }
