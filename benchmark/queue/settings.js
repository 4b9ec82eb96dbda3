// The queue suites' sizes, the same for arcflow and every peer, and the
// environment variables that change them for a quick look:
//   QUEUE_BENCH_JOBS (20000), QUEUE_BENCH_REPS (1 drain per worker count),
//   QUEUE_BENCH_WAKE (200 single enqueues).
'use strict'

function int(name, fallback) {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return fallback
  const n = Number(raw)
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, got ${JSON.stringify(raw)}`)
  return n
}

module.exports = {
  jobs: int('QUEUE_BENCH_JOBS', 20_000),
  reps: int('QUEUE_BENCH_REPS', 1),
  wakeSamples: int('QUEUE_BENCH_WAKE', 200),
}
