// Runs every benchmark/*.bench.js, one child process each (so one suite's
// heap and GC state do not skew the next), then writes
// benchmark/results/summary.md from the JSON files the suites save.
//
//   node benchmark/run.js            every suite
//   node benchmark/run.js queue      only the suites whose file names contain
//                                    `queue` (several words: any of them); the
//                                    other suites' files of an earlier run stay
//                                    and are summarised beside them
'use strict'
const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { queueSection } = require('./queue/summary.js')
const { serverSection } = require('./server-summary.js')

const dir = __dirname
const resultsDir = path.join(dir, 'results')
const only = process.argv.slice(2)
const suites = fs.readdirSync(dir)
  .filter((f) => f.endsWith('.bench.js') && (only.length === 0 || only.some((word) => f.includes(word))))
  .sort()
if (suites.length === 0) throw new Error(`no benchmark/*.bench.js matches ${only.join(', ')}`)

fs.mkdirSync(resultsDir, { recursive: true })
// A stale file would otherwise be summarised as if it were this run's.
for (const f of fs.readdirSync(resultsDir)) {
  if (f.endsWith('.json') && (only.length === 0 || suites.includes(f.replace(/\.json$/, '.bench.js')))) fs.rmSync(path.join(resultsDir, f))
}
for (const file of suites) {
  console.log(`\n$ node benchmark/${file}`)
  execFileSync(process.execPath, [path.join(dir, file)], { stdio: 'inherit' })
}

// The median of benny's samples: robust to the GC pauses and neighbours of
// a shared machine, and exact where benny rounds ops/s to an integer (a
// case slower than one op per second would read as 0 ops/s).
const nsPerOp = (result) => (result.details ? result.details.median * 1e9 : 1e9 / result.ops)
const formatNs = (ns) => (ns >= 100 ? Math.round(ns).toLocaleString('en-US') : ns.toFixed(1))

// The goal for clone()/withItem(): the 5 MB context within 1.2x of the
// empty one, and at most 150 ns per call.
function contextRatios(results) {
  const ns = (name) => {
    const found = results.find((r) => r.name === name)
    return found ? nsPerOp(found) : NaN
  }
  return ['clone', 'withItem'].map((op) => {
    const empty = ns(`${op} [empty]`)
    const big = ns(`${op} [5 MB]`)
    const ratio = big / empty
    const met = ratio <= 1.2 && big <= 150 && empty <= 150
    return `- ${op}: 5 MB / empty = ${ratio.toFixed(2)}x (${formatNs(big)} ns vs ${formatNs(empty)} ns); ` +
      `goal (<= 1.2x, <= 150 ns) ${met ? 'met' : 'NOT met'}`
  })
}

// The engine issue's goals: <= 3 us per task of a chain, <= 20 us for a
// one-task run, <= 2 us per item and linear (100k within 1.5x of 1k).
function engineFigures(ns) {
  const us = (v) => (v / 1000).toFixed(2)
  const verdict = (ok) => (ok ? 'met' : 'NOT met')
  const perTask = ns.get('arcflow 10-task chain') / 10
  const plainStep = ns.get('plain async chain, 10 steps') / 10
  const lgNode = ns.get('LangGraph.js 10-node chain') / 10
  const oneRun = ns.get('arcflow one-task run, start to result')
  const lgOne = ns.get('LangGraph.js one-node invoke')
  const item = (n, label) => ns.get(`arcflow with-items, ${label} items`) / n
  const i1k = item(1e3, '1,000')
  const i10k = item(1e4, '10,000')
  const i100k = item(1e5, '100,000')
  const lgItem = ns.get('LangGraph.js Send fan-out, 1,000 items') / 1e3
  return [
    `- 10-task chain: ${us(perTask)} us per task (plain async chain ${us(plainStep)} us per step, LangGraph.js ${us(lgNode)} us per node); goal <= 3 us ${verdict(perTask <= 3000)}`,
    `- one-task run: ${us(oneRun)} us (LangGraph.js one-node invoke ${us(lgOne)} us); goal <= 20 us ${verdict(oneRun <= 20000)}`,
    `- with-items: ${us(i1k)} / ${us(i10k)} / ${us(i100k)} us per item at 1k / 10k / 100k (LangGraph.js Send ${us(lgItem)} us per item at 1k); ` +
      `100k / 1k = ${(i100k / i1k).toFixed(2)}x; goal <= 2 us and <= 1.5x ${verdict(Math.max(i1k, i10k, i100k) <= 2000 && i100k / i1k <= 1.5)}`,
  ]
}

// The durable store issue's goals: batched <= 5 us per task on the JS
// thread, >= 100,000 tasks persisted per second, sync >= 20,000 completions
// per second over 64 runs, event-loop delay p99 <= 2 ms.
function durableFigures(ns, loop) {
  const us = (v) => (v / 1000).toFixed(2)
  const verdict = (ok) => (ok ? 'met' : 'NOT met')
  const memoryTask = ns.get('10-task chain, in memory') / 10
  const batchedTask = ns.get('10-task chain, batched (SQLite)') / 10
  const plainStep = ns.get('plain better-sqlite3 loop, 10 steps, an INSERT per step') / 10
  const lgStep = ns.get('LangGraph.js 10-node chain, SqliteSaver checkpointer') / 10
  const persisted = 10_000 / (ns.get('1,000 chain runs (10,000 tasks), batched, until committed') / 1e9)
  const syncRate = 64 / (ns.get('64 concurrent one-task runs, sync (SQLite, group commit)') / 1e9)
  const lines = [
    `- 10-task chain, batched: ${us(batchedTask)} us per task (in memory ${us(memoryTask)} us; better-sqlite3 INSERT per step ${us(plainStep)} us; LangGraph.js with SqliteSaver ${us(lgStep)} us per node); goal <= 5 us ${verdict(batchedTask <= 5000)}`,
    `- persisted end to end: ${Math.round(persisted).toLocaleString('en-US')} task executions per second; goal >= 100,000 ${verdict(persisted >= 100_000)}`,
    `- sync, 64 concurrent one-task runs: ${Math.round(syncRate).toLocaleString('en-US')} completions per second; goal >= 20,000 ${verdict(syncRate >= 20_000)}`,
  ]
  if (loop) {
    const p99 = loop.batched.delayMs.p99
    lines.push(`- event-loop delay p99 during a 100,000-item run: batched ${p99.toFixed(2)} ms, sync ${loop.sync.delayMs.p99.toFixed(2)} ms, in memory ${loop.none.delayMs.p99.toFixed(2)} ms; goal <= 2 ms ${verdict(p99 <= 2)}`)
  }
  return lines
}

// The metering issue's goal: <= 0.5 us added per task.
function meteringFigures(ns) {
  const plain = ns.get('arcflow 10-task chain') / 10
  const metered = ns.get('arcflow 10-task chain, metered') / 10
  const added = metered - plain
  return [`- 10-task chain: ${(metered / 1000).toFixed(2)} us per task metered, ${(plain / 1000).toFixed(2)} us not: ${(added / 1000).toFixed(2)} us added; goal <= 0.5 us ${added <= 500 ? 'met' : 'NOT met'}`]
}

const cpus = os.cpus()
const profile = fs.readFileSync(path.join(dir, '..', 'lib', '.native-profile'), 'utf8').trim().split(' ')[0]
const lines = [
  '# arcflow benchmarks',
  '',
  `- Machine: ${cpus[0].model}, ${cpus.length} cores, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, ${os.platform()} ${os.arch()}`,
  `- Node ${process.version}, native addon: ${profile} build`,
  `- Date: ${new Date().toISOString()}`,
  ...(only.length > 0 ? [`- This run: ${suites.join(', ')} only; the other sections come from the files of an earlier run`] : []),
]
// durable-loop.json and server.json are not benny files: read below
const results = fs.readdirSync(resultsDir).filter((f) => f.endsWith('.json') && f !== 'durable-loop.json' && f !== 'server.json').sort()
const byName = new Map()
for (const file of results) {
  const name = path.basename(file, '.json')
  const summary = JSON.parse(fs.readFileSync(path.join(resultsDir, file), 'utf8'))
  // a suite with nothing to measure here (queue-arcflow before the queue API) says why below
  if (summary.results.length === 0) continue
  for (const r of summary.results) byName.set(r.name, nsPerOp(r))
  lines.push('', `## ${name}`, '', '| case | ns per op (median) | ± margin % | samples |', '| --- | ---: | ---: | ---: |')
  for (const r of summary.results) {
    lines.push(`| ${r.name} | ${formatNs(nsPerOp(r))} | ${r.margin.toFixed(2)} | ${r.samples} |`)
  }
  if (name === 'context') {
    const ratios = contextRatios(summary.results)
    lines.push('', ...ratios)
    console.log(`\ncontext ratios:\n${ratios.join('\n')}`)
  }
}
// each section only when its suites' figures are there (a partial run)
if (byName.has('arcflow 10-task chain')) {
  const engine = engineFigures(byName)
  lines.push('', '## engine, per task and per item', '', ...engine)
  console.log(`\nengine:\n${engine.join('\n')}`)
}
if (byName.has('10-task chain, batched (SQLite)')) {
  const loopFile = path.join(resultsDir, 'durable-loop.json')
  const durable = durableFigures(byName, fs.existsSync(loopFile) ? JSON.parse(fs.readFileSync(loopFile, 'utf8')) : undefined)
  lines.push('', '## durable store', '', ...durable)
  console.log(`\ndurable store:\n${durable.join('\n')}`)
}
if (byName.has('arcflow 10-task chain, metered')) {
  const metering = meteringFigures(byName)
  lines.push('', '## metering', '', ...metering)
  console.log(`\nmetering:\n${metering.join('\n')}`)
}
const queues = queueSection(resultsDir)
if (queues.length > 0) {
  lines.push(...queues)
  console.log(queues.join('\n'))
}
const server = serverSection(resultsDir)
if (server.length > 0) {
  lines.push(...server)
  console.log(server.join('\n'))
}
fs.writeFileSync(path.join(resultsDir, 'summary.md'), lines.join('\n') + '\n')
console.log(`\nWrote ${path.relative(process.cwd(), path.join(resultsDir, 'summary.md'))}`)
