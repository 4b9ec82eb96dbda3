// Where a drain's time goes (issue 13's throughput work): one drain of
// `QUEUE_BENCH_JOBS` one-task runs (or 10-task chains: `--chain`) by one
// worker process, with
// - CPU µs per job of the worker process (utime+stime of /proc/PID/stat:
//   JS thread, libuv threads, flush thread) and of the cluster's
//   PostgreSQL processes (the postmaster's children: backends, WAL writer,
//   checkpointer...), read while they still live;
// - the worker's JS thread busy share (event-loop utilisation between
//   `go` and the last job);
// - transactions, rows inserted / updated (HOT or not) per job, from
//   pg_stat_database and pg_stat_user_tables.
//   node benchmark/queue/breakdown.js [--chain]
'use strict'
const fs = require('node:fs')
const path = require('node:path')
const { Client } = require('pg')
const arcflow = require('./arcflow.js')
const { spawnWorkers } = require('./workers.js')
const settings = require('./settings.js')
const { settledCommits, untilCommitted, sleep, now, seconds, within } = require('./measure.js')
const { startCluster } = require('../support/postgres.js')

const TICKS = 100 // USER_HZ: /proc/PID/stat counts CPU in ticks of 10 ms

/** utime + stime of `pid` in µs (0 once it is gone). */
function cpuUs(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return ((Number(fields[11]) + Number(fields[12])) * 1e6) / TICKS
  } catch {
    return 0
  }
}

/** CPU µs of each thread of `pid`, by thread name (the JS thread is the process's own name). */
function threadCpu(pid) {
  const out = new Map()
  try {
    for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
      const stat = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      out.set(`${name}#${tid}`, ((Number(fields[11]) + Number(fields[12])) * 1e6) / TICKS)
    }
  } catch {}
  return out
}

/** The pids of the postmaster of `cluster` and of its children. */
function clusterPids(cluster) {
  const postmaster = Number(fs.readFileSync(path.join(cluster.data, 'postmaster.pid'), 'utf8').split('\n')[0])
  const pids = [postmaster]
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8')
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === postmaster) pids.push(Number(entry))
    } catch {}
  }
  return pids
}

/** CPU of every cluster process, by pid (a backend that exits takes its count with it: read before the workers stop). */
const clusterCpu = (cluster) => new Map(clusterPids(cluster).map((pid) => [pid, cpuUs(pid)]))

function cpuSince(before, after) {
  let total = 0
  for (const [pid, us] of after) total += us - (before.get(pid) ?? 0)
  return total
}

/** What a cluster process is (its title: "postgres: walwriter", "postgres: postgres DB 127.0.0.1(port) idle"). */
function title(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim().replace(/\(\d+\)/, '').replace(/ (idle|SELECT|UPDATE|INSERT|COMMIT|BEGIN|idle in transaction)$/, '')
  } catch {
    return String(pid)
  }
}

async function tableCounts(db) {
  const client = new Client({ connectionString: db.url })
  await client.connect()
  try {
    const { rows } = await client.query(`SELECT relname, n_tup_ins::int AS ins, n_tup_upd::int AS upd, n_tup_hot_upd::int AS hot, n_tup_del::int AS del
      FROM pg_stat_user_tables WHERE schemaname = $1`, [arcflow.SCHEMA])
    const d = await client.query('SELECT tup_inserted::bigint AS ins, tup_updated::bigint AS upd, tup_returned::bigint AS ret, blks_hit::bigint AS hit FROM pg_stat_database WHERE datname = current_database()')
    return { tables: new Map(rows.map((r) => [r.relname, r])), db: d.rows[0] }
  } finally {
    await client.end()
  }
}

async function main() {
  const chain = process.argv.includes('--chain')
  const cluster = await startCluster()
  const db = await cluster.freshDatabase('breakdown')
  const spec = { module: path.join(__dirname, 'arcflow.js'), config: { workflow: chain ? 'chain' : 'one' } }
  const adapter = arcflow.create(spec.config)
  await adapter.install(db.url)
  const runs = chain ? Math.round(settings.jobs / 10) : settings.jobs
  const producer = await adapter.producer(db.url)
  await producer.bulk(Array.from({ length: runs }, (_, n) => ({ n })))
  await producer.close()

  const [worker] = await spawnWorkers(spec, db.url, 1)
  const poll = new Client({ connectionString: db.url })
  await poll.connect()
  const commits0 = await settledCommits(cluster, db)
  // pg_stat counters reach the views when a backend is idle (≤ 1/s) or exits: read them after the worker stops
  const tables0 = await tableCounts(db)
  const pg0 = clusterCpu(cluster)
  const w0 = cpuUs(worker.pid)
  const t0 = threadCpu(worker.pid)
  await worker.go()
  const eluStart = await worker.elu()
  await within(new Promise((resolve) => { const check = () => worker.jobs >= runs && resolve(); worker.on('jobs', check); check() }), 600_000, 'the drain')
  const polls = await untilCommitted(poll, adapter)
  const end = now()
  const eluEnd = await worker.elu()
  const pg1 = clusterCpu(cluster)
  const titles = new Map([...pg1.keys()].map((pid) => [pid, title(pid)]))
  // which connection a backend serves: its last statement
  for (const r of (await poll.query('SELECT pid, left(regexp_replace(query, \'\\s+\', \' \', \'g\'), 70) AS q FROM pg_stat_activity WHERE datname = current_database()')).rows) {
    if (titles.has(r.pid)) titles.set(r.pid, `${titles.get(r.pid)}: ${r.q}`)
  }
  const w1 = cpuUs(worker.pid)
  const t1 = threadCpu(worker.pid)
  const wall = seconds(end - worker.first)
  await worker.stop()
  await poll.end()
  const commits = (await settledCommits(cluster, db)) - commits0 - polls
  await sleep(1_200)
  const tables1 = await tableCounts(db)
  cluster.stop()

  const per = (x) => (x / runs).toFixed(2)
  const busy = (eluEnd.active - eluStart.active) / (eluEnd.active - eluStart.active + eluEnd.idle - eluStart.idle)
  console.log(`${runs} ${chain ? '10-task chain' : 'one-task'} runs, 1 worker: ${Math.round(runs / wall).toLocaleString('en-US')} runs/s, ${((wall * 1e6) / runs).toFixed(1)} µs wall per run`)
  console.log(`CPU per run: worker process ${per(w1 - w0)} µs, PostgreSQL ${per(cpuSince(pg0, pg1))} µs (wall per run × 2 cores = ${((2 * wall * 1e6) / runs).toFixed(1)} µs)`)
  const byThread = new Map()
  for (const [key, us] of t1) {
    const name = key.split('#')[0]
    byThread.set(name, (byThread.get(name) ?? 0) + us - (t0.get(key) ?? 0))
  }
  for (const [name, us] of [...byThread].sort((a, b) => b[1] - a[1])) if (us > 0) console.log(`  worker thread ${name}: ${per(us)} µs`)
  const byProcess = [...pg1].map(([pid, us]) => [pid, us - (pg0.get(pid) ?? 0)]).filter(([, us]) => us > 0).sort((a, b) => b[1] - a[1])
  for (const [pid, us] of byProcess) console.log(`  ${per(us)} µs ${titles.get(pid)} (pid ${pid})`)
  console.log(`worker JS thread busy ${(busy * 100).toFixed(0)}% of the drain (event-loop utilisation)`)
  console.log(`transactions per run ${(commits / runs).toFixed(4)}`)
  for (const [name, after] of tables1.tables) {
    const b = tables0.tables.get(name) ?? { ins: 0, upd: 0, hot: 0, del: 0 }
    const ins = after.ins - b.ins
    const upd = after.upd - b.upd
    const hot = after.hot - b.hot
    const del = after.del - b.del
    if (ins || upd || del) console.log(`  ${name}: inserted ${per(ins)}, updated ${per(upd)} (HOT ${per(hot)}), deleted ${per(del)} per run`)
  }
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
