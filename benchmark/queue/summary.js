// The queue section of benchmark/results/summary.md, from the queue
// suites' files (queue-peers.json, queue-arcflow.json): one row per queue,
// then arcflow's chain and takeover figures and issue 13's goals.
'use strict'
const fs = require('node:fs')
const path = require('node:path')

const FILES = ['queue-arcflow.json', 'queue-peers.json']
const int = (v) => (Number.isFinite(v) ? Math.round(v).toLocaleString('en-US') : 'n/a')
const fixed = (v, d) => (Number.isFinite(v) ? v.toFixed(d) : 'n/a')
const verdict = (ok) => (ok ? 'met' : 'NOT met')

function read(dir) {
  const files = []
  for (const f of FILES) {
    const file = path.join(dir, f)
    if (fs.existsSync(file)) files.push(JSON.parse(fs.readFileSync(file, 'utf8')))
  }
  return files
}

function rows(results) {
  const byQueue = new Map()
  for (const r of results) {
    if (!['enqueue', 'drain', 'wake-up'].includes(r.kind)) continue
    const q = byQueue.get(r.queue) ?? {}
    if (r.kind === 'drain') q[`drain${r.processes}`] = r
    else q[r.kind] = r
    byQueue.set(r.queue, q)
  }
  return byQueue
}

/** The section's lines, or none when no queue suite ran. */
function queueSection(dir) {
  const files = read(dir)
  if (files.length === 0) return []
  const lines = ['', '## queues on PostgreSQL (issue 13)', '']
  const first = files.find((f) => f.postgres)
  if (first) lines.push(`PostgreSQL ${first.postgres} on this machine, fsync ${first.fsync}, synchronous_commit ${first.synchronousCommit}; ${int(first.settings.jobs)} trivial jobs enqueued in bulk, then drained; wake-up over ${first.settings.wakeSamples} single enqueues on an idle worker; transactions from pg_stat_database (xact_commit).`, '')
  for (const f of files) if (f.notAvailable) lines.push(`- ${f.name}: not available: ${f.notAvailable}`, '')
  const all = files.flatMap((f) => f.results)
  const table = rows(all)
  if (table.size > 0) {
    lines.push('| queue | enqueue jobs/s | drain jobs/s, 1 process | 2 processes | transactions per job, 1 / 2 | wake-up p50 / p99 ms |', '| --- | ---: | ---: | ---: | ---: | ---: |')
    for (const [queue, q] of table) {
      lines.push(`| ${queue} | ${int(q.enqueue?.jobsPerSecond)} | ${int(q.drain1?.jobsPerSecond)} | ${int(q.drain2?.jobsPerSecond)} | ` +
        `${fixed(q.drain1?.transactionsPerJob, 3)} / ${fixed(q.drain2?.transactionsPerJob, 3)} | ${fixed(q['wake-up']?.p50Ms, 2)} / ${fixed(q['wake-up']?.p99Ms, 2)} |`)
    }
  }
  const arcflow = [...table].find(([queue]) => queue.startsWith('arcflow'))?.[1]
  const batched = [...table].find(([queue]) => queue.startsWith('graphile-worker') && queue.includes('batched'))?.[1]
  const goals = []
  if (arcflow && batched) {
    const ratio = arcflow.drain1?.jobsPerSecond / batched.drain1?.jobsPerSecond
    goals.push(`- one-task runs, 1 worker process: ${fixed(ratio, 2)}x graphile-worker batched; goal >= 3x ${verdict(ratio >= 3)}`)
  }
  if (arcflow?.['wake-up']) goals.push(`- wake-up p99 ${fixed(arcflow['wake-up'].p99Ms, 2)} ms; goal <= 5 ms ${verdict(arcflow['wake-up'].p99Ms <= 5)}`)
  const chain = all.find((r) => r.kind === 'chain')
  if (chain) {
    goals.push(`- 10-task chains, batched: ${int(chain.tasksPerSecond)} task executions persisted per second; goal >= 50,000 ${verdict(chain.tasksPerSecond >= 50_000)}`)
    goals.push(`- 10-task chains, batched: ${fixed(chain.transactionsPerTask, 4)} transactions per task; goal <= 0.02 ${verdict(chain.transactionsPerTask <= 0.02)}`)
  }
  const takeover = all.find((r) => r.kind === 'takeover')
  if (takeover) goals.push(`- takeover after kill -9: ${int(takeover.p50Ms)} ms median, ${int(takeover.maxMs)} ms at most, over ${takeover.samples} kills, with a lease of ${int(takeover.leaseMs)} ms`)
  if (goals.length > 0) lines.push('', ...goals)
  return lines
}

module.exports = { queueSection }
