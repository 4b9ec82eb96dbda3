// arcflow's workers as a queue of the queue benchmarks: the same adapter
// shape as the peers' (see queue/README.md), over the API of issue 13 as
// docs/workers.md describes it:
//   engine.enqueue(workflow, input, { queue }) -> { id, created, status }
//   engine.work({ queues, concurrency, lease }) -> worker; worker.stop({ drain })
//   new Engine({ store: 'postgres://...?schema=NAME', durability })
// `available()` says why it cannot run (dist/ not built, or an engine
// without `enqueue`/`work`: the API is not merged yet); the suite then
// reports "not available" instead of failing.
'use strict'
const fs = require('node:fs')
const path = require('node:path')

const DIST = path.join(__dirname, '..', '..', 'dist', 'index.js')
const QUEUE = 'bench'
// every table of the store lives in this schema (`?schema=`), so the
// drain's check reads it by name
const SCHEMA = 'arcflow'
const CONCURRENCY = 64
// claimed ahead of free slots, like graphile-worker's localQueue (size 500) in its batched configuration
const PREFETCH = 500

/** Undefined when arcflow's queue can be measured, else why not. */
function unavailable() {
  if (!fs.existsSync(DIST)) return 'dist/ is not built (node scripts/ensure-built.js)'
  const { Engine } = require(DIST)
  for (const method of ['enqueue', 'work']) {
    if (typeof Engine.prototype[method] !== 'function') return `this build's Engine has no ${method}() (the queue API of issue 13 is not merged)`
  }
  return undefined
}

/** A 10-task chain whose first task is the benchmark's job and the nine others trivial. */
function chainTasks() {
  const tasks = { t0: { action: 'job', input: '{{ input }}', next: { do: 't1' } } }
  for (let i = 1; i < 10; i++) tasks[`t${i}`] = { action: 'inc', input: i === 1 ? 1 : `{{ tasks.t${i - 1}.result }}`, ...(i < 9 ? { next: { do: `t${i + 1}` } } : {}) }
  return tasks
}

/**
 * `workflow`: 'one' (a one-task run: the trivial job) or 'chain' (10
 * tasks); `lease`: the workers' lease (default: arcflow's); durability
 * `batched` (arcflow's default) unless said otherwise.
 */
function create({ workflow = 'one', lease, durability = 'batched' } = {}) {
  const { Engine } = require(DIST)
  const { version } = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8'))
  const store = (url) => `${url}?schema=${SCHEMA}`
  const open = (url) => new Engine({ store: store(url), durability })
  return {
    label: `arcflow ${version}, ${workflow === 'one' ? 'one-task runs' : '10-task chain runs'}, ${durability}`,
    // opening the store creates and migrates its schema
    async install(url) {
      await open(url).close()
    },
    async producer(url) {
      // a producer registers nothing: enqueue names the workflow
      const engine = open(url)
      const one = (input) => engine.enqueue(workflow, input, { queue: QUEUE })
      return {
        // the bulk call: 5,000 runs per transaction
        bulk: (inputs) => engine.enqueueMany(workflow, inputs, { queue: QUEUE }),
        one,
        close: () => engine.close(),
      }
    },
    remainingSql: `SELECT count(*)::int AS n FROM ${SCHEMA}.runs WHERE status IN ('queued', 'running')`,
    async work(url, onJob) {
      const engine = open(url)
      // the job may hold (takeover): it is retried on the worker that takes the run over
      engine.action('job', async (input) => { await onJob(input); return 1 })
      engine.action('inc', async (n) => n + 1)
      engine.workflow({ name: 'one', tasks: { t: { action: 'job', input: '{{ input }}', retry: { count: 3, delay: '5ms' } } }, output: '{{ tasks.t.result }}' })
      engine.workflow({ name: 'chain', tasks: chainTasks(), output: '{{ tasks.t9.result }}' })
      const worker = engine.work({ queues: [QUEUE], concurrency: CONCURRENCY, prefetch: PREFETCH, ...(lease ? { lease } : {}) })
      worker.on('error', (e) => console.error(`arcflow worker: ${e.stack ?? e}`))
      return {
        async stop() {
          await worker.stop({ drain: true })
          await engine.close()
        },
      }
    },
  }
}

module.exports = { create, unavailable, QUEUE, SCHEMA }
