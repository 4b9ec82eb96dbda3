// The measurements every queue suite makes, whatever the queue (an adapter,
// see queue/README.md), on a database of its own:
// - bulk enqueue of `jobs` jobs, no worker running: jobs/s;
// - drain by 1 and by 2 worker processes: from the first job started to
//   the database saying no job is left (completions committed), jobs/s,
//   and the database's committed transactions per job;
// - wake-up: single enqueues on an idle worker, enqueue -> job started.
'use strict'
const { setTimeout: sleep } = require('node:timers/promises')
const { Client } = require('pg')
const { spawnWorkers, once } = require('./workers.js')
const { percentile, record } = require('./results.js')

const seconds = (ns) => Number(ns) / 1e9
const now = () => process.hrtime.bigint()

/** Rejects after `ms` with `what`; the timer does not outlive the race. */
async function within(promise, ms, what) {
  let timer
  const timeout = new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms) })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * The database's committed transactions once the counts stop moving:
 * backends report them when idle (at most once a second) and at exit, so
 * two equal reads a little apart mean every backend that ended has told.
 */
async function settledCommits(cluster, db) {
  let last = await cluster.commits(db.name)
  for (;;) {
    await sleep(400)
    const next = await cluster.commits(db.name)
    if (next === last) return last
    last = next
  }
}

/** `count` payloads; the worker's job does nothing with them (a trivial job). */
const payloads = (count, from) => Array.from({ length: count }, (_, i) => ({ n: from + i }))

async function bulkEnqueue(adapter, db, count, from) {
  const producer = await adapter.producer(db.url)
  try {
    const list = payloads(count, from)
    const t0 = now()
    await producer.bulk(list)
    return seconds(now() - t0)
  } finally {
    await producer.close()
  }
}

/** Resolves when the workers have run `count` jobs between them; rejects if one exits. */
function ranJobs(workers, count) {
  return new Promise((resolve, reject) => {
    const total = () => workers.reduce((sum, w) => sum + w.jobs, 0)
    const check = () => {
      if (total() < count) return
      for (const w of workers) {
        w.off('jobs', check)
        w.off('exit', died)
      }
      resolve()
    }
    const died = (code, signal) => reject(new Error(`a worker process ended (${signal ?? code}) in the middle of a drain`))
    for (const w of workers) {
      w.on('jobs', check)
      w.on('exit', died)
    }
    check()
  })
}

/**
 * The handlers have run; a drain ends when the completions are committed:
 * polls the database (client `poll`) until no job is left; answers the polls.
 */
async function untilCommitted(poll, adapter) {
  for (let polls = 1; ; polls++) {
    const { rows } = await poll.query(adapter.remainingSql)
    if (rows[0].n === 0) return polls
    await sleep(2)
  }
}

/** Drains `count` queued jobs with `processes` worker processes. */
async function drain(cluster, db, spec, adapter, processes, count) {
  const workers = await spawnWorkers(spec, db.url, processes)
  const poll = new Client({ connectionString: db.url })
  let polls = 0
  try {
    await poll.connect()
    const before = await settledCommits(cluster, db)
    await Promise.all(workers.map((w) => w.go()))
    await within(ranJobs(workers, count), 600_000, `${processes} worker process(es) running ${count} jobs`)
    polls += await untilCommitted(poll, adapter)
    const end = now()
    // a worker that got no job has no first one
    const start = workers.map((w) => w.first).filter((t) => t !== undefined).reduce((a, b) => (b < a ? b : a))
    await Promise.all(workers.map((w) => w.stop()))
    // after the stop, whose last report counts every job: one run twice shows here
    const ran = workers.reduce((sum, w) => sum + w.jobs, 0)
    await poll.end()
    // the poll's own autocommit SELECTs are not the queue's
    const transactions = (await settledCommits(cluster, db)) - before - polls
    return { seconds: seconds(end - start), ran, transactions }
  } finally {
    await Promise.all(workers.map((w) => w.kill('SIGKILL')))
    await poll.end().catch(() => {})
  }
}

/** Single enqueues on one idle worker process: enqueue -> job started, in ns. */
async function wakeUps(db, spec, adapter, samples) {
  const [worker] = await spawnWorkers(spec, db.url, 1)
  const producer = await adapter.producer(db.url)
  const latencies = []
  try {
    await worker.go()
    await sleep(500)
    for (let i = 0; i < samples; i++) {
      const started = once(worker, 'started')
      const t = now()
      await producer.one({ t: String(t) })
      const s = await within(started, 30_000, 'a single enqueued job to start on an idle worker')
      latencies.push(Number(s.started - s.t))
      // idle again: whatever the worker does after a job (batched completion, refetch) is over
      await sleep(5 + Math.random() * 20)
    }
    await worker.stop()
    return latencies
  } finally {
    await producer.close()
    await worker.kill('SIGKILL')
  }
}

/**
 * Every measurement for one queue: `spec` is `{ module, config }` (what a
 * worker process loads), on database `db` of `cluster`.
 */
async function measureQueue(cluster, db, spec, { jobs, reps, wakeSamples, log = console.log }) {
  const adapter = require(spec.module).create(spec.config ?? {})
  await adapter.install(db.url)
  const count = jobs.toLocaleString('en-US')
  const results = []
  const enqueueSamples = []
  let from = 0
  for (const processes of [1, 2]) {
    const perJob = []
    const perJobTx = []
    for (let rep = 0; rep < reps; rep++) {
      const enqueueSeconds = await bulkEnqueue(adapter, db, jobs, from)
      from += jobs
      enqueueSamples.push(enqueueSeconds / jobs)
      const d = await drain(cluster, db, spec, adapter, processes, jobs)
      if (d.ran !== jobs) throw new Error(`${adapter.label}: ${d.ran} jobs ran for ${jobs} enqueued`)
      perJob.push(d.seconds / jobs)
      perJobTx.push(d.transactions / jobs)
      log(`${adapter.label}: enqueue ${Math.round(jobs / enqueueSeconds).toLocaleString('en-US')} jobs/s; ` +
        `drain by ${processes} process(es) ${Math.round(jobs / d.seconds).toLocaleString('en-US')} jobs/s, ${(d.transactions / jobs).toFixed(3)} transactions per job`)
    }
    const sortedTx = [...perJobTx].sort((a, b) => a - b)
    const r = record(`${adapter.label}: ${count} jobs drained by ${processes} worker process${processes > 1 ? 'es' : ''}`, perJob, {
      queue: adapter.label, kind: 'drain', processes, jobs, transactionsPerJob: percentile(sortedTx, 50),
    })
    r.jobsPerSecond = r.ops
    results.push(r)
  }
  const enqueue = record(`${adapter.label}: bulk enqueue of ${count} jobs`, enqueueSamples, { queue: adapter.label, kind: 'enqueue', jobs })
  enqueue.jobsPerSecond = enqueue.ops
  results.unshift(enqueue)
  const latencies = (await wakeUps(db, spec, adapter, wakeSamples)).sort((a, b) => a - b)
  const ms = (ns) => ns / 1e6
  const wake = record(`${adapter.label}: wake-up, enqueue on an idle worker to job started`, latencies.map((ns) => ns / 1e9), {
    queue: adapter.label, kind: 'wake-up', p50Ms: ms(percentile(latencies, 50)), p99Ms: ms(percentile(latencies, 99)), maxMs: ms(latencies[latencies.length - 1]),
  })
  log(`${adapter.label}: wake-up p50 ${wake.p50Ms.toFixed(2)} ms, p99 ${wake.p99Ms.toFixed(2)} ms over ${latencies.length} enqueues`)
  results.push(wake)
  return results
}

module.exports = { measureQueue, drain, untilCommitted, wakeUps, settledCommits, within, sleep, now, seconds }
