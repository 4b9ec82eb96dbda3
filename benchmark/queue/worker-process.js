// One worker process of the queue benchmarks (forked by queue/workers.js):
// it loads one adapter (argv: its module, its config as JSON, the database
// URL), says `ready`, and on `go` starts working. Every job it runs is
// counted; the parent hears the count (coalesced), the monotonic time of
// its first job, and, for a job whose payload carries `t` (the
// producer's process.hrtime.bigint() just before the enqueue), when it
// started. process.hrtime is CLOCK_MONOTONIC, one clock for every process
// of the machine, so the parent can subtract the two.
// A payload with `hold: true` keeps its job running until `release`
// (the takeover measurement holds a run while its worker is killed).
'use strict'
const [modulePath, configJson, url] = process.argv.slice(2)
const adapter = require(modulePath).create(JSON.parse(configJson))

let jobs = 0
let reported = 0
let timer
let first = false
let worker
let stopped = false
const holds = []

function report() {
  timer = undefined
  if (jobs > reported) process.send({ jobs: jobs - reported })
  reported = jobs
}

function onJob(payload) {
  const now = process.hrtime.bigint()
  if (!first) {
    first = true
    process.send({ first: String(now) })
  }
  if (payload && payload.t !== undefined) process.send({ started: String(now), t: String(payload.t) })
  jobs++
  // one message per few ms, not one per job: IPC would cost more than the job
  timer ??= setTimeout(report, 5)
  if (payload && payload.hold) return new Promise((resolve) => holds.push(resolve))
  return undefined
}

async function handle(message) {
  if (message === 'go') {
    worker = await adapter.work(url, onJob)
    process.send('working')
  } else if (message === 'elu') {
    // the JS thread's busy and idle time so far (breakdown.js)
    const { active, idle } = require('node:perf_hooks').performance.eventLoopUtilization()
    process.send({ elu: { active, idle } })
  } else if (message === 'release') {
    for (const resolve of holds.splice(0)) resolve()
  } else if (message === 'stop') {
    if (worker) await worker.stop()
    clearTimeout(timer)
    report()
    stopped = true
    process.send('stopped', () => process.disconnect())
  }
}

// the parent is gone (it failed, or was killed): no orphan keeps working
process.on('disconnect', () => process.exit(stopped ? 0 : 1))

process.on('message', (message) => {
  handle(message).catch((e) => {
    console.error(`worker process (${adapter.label}): ${e.stack ?? e}`)
    process.exit(1)
  })
})
process.send('ready')
