// The queue suites' figures as records of the shape benny saves (name,
// ops, margin, samples, details.median in seconds per op...), so that
// benchmark/run.js summarises them with the other suites; the figures a
// queue comparison needs (jobs/s, transactions per job, p50/p99) ride
// along as extra fields.
'use strict'
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const folder = path.join(__dirname, '..', 'results')

/** The `p`-th percentile (0..100) of sorted numbers, nearest rank. */
function percentile(sorted, p) {
  if (sorted.length === 0) return NaN
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]
}

/** A record from samples in seconds per op; `extra` is merged in. */
function record(name, secondsPerOp, extra = {}) {
  const sorted = [...secondsPerOp].sort((a, b) => a - b)
  const median = percentile(sorted, 50)
  const mean = sorted.reduce((a, b) => a + b, 0) / sorted.length
  return {
    name,
    ops: 1 / median,
    // a handful of long samples, not benny's statistics: the spread is in min/max
    margin: 0,
    samples: sorted.length,
    details: { min: sorted[0], max: sorted[sorted.length - 1], mean, median, sampleResults: sorted },
    ...extra,
  }
}

function machine() {
  const cpus = os.cpus()
  return `${cpus[0].model}, ${cpus.length} cores, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, ${os.platform()} ${os.arch()}, Node ${process.version}`
}

/** Writes results/<name>.json; `extra` (settings, a reason it is not available...) is merged in. */
function save(name, results, extra = {}) {
  fs.mkdirSync(folder, { recursive: true })
  const file = path.join(folder, `${name}.json`)
  fs.writeFileSync(file, JSON.stringify({ name, date: new Date().toISOString(), version: null, machine: machine(), ...extra, results }, null, 2) + '\n')
  return file
}

module.exports = { percentile, record, save }
