// The engine with the durable store (embedded SQLite), beside the same
// workloads in memory and a plain better-sqlite3 insert-per-step loop:
// - a 10-task chain one run at a time: the JS thread's cost per task with
//   `batched` (the flush thread commits in the background);
// - 1,000 chain runs (10,000 tasks, 64 in flight) until every write is
//   committed: task executions persisted per second, end to end;
// - 64 concurrent one-task runs with `sync`: completions per second with
//   group commit.
// Then, outside benny, the event loop's delay (p99) during a 100,000-item
// durable run, saved to results/durable-loop.json.
'use strict'
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { monitorEventLoopDelay } = require('node:perf_hooks')
const w = require('./engine-workloads.js')
const sqliteLoop = require('./peers/sqlite-loop.js')
const { Engine } = require('../dist/index.js')

const { b, folder, configure } = w
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'arcflow-bench-'))
const engines = {}
for (const mode of ['none', 'batched', 'sync']) {
  const engine = mode === 'none' ? new Engine() : new Engine({ store: `sqlite:${path.join(dir, `${mode}.db`)}`, durability: mode })
  engine.action('inc', async (n) => n + 1)
  const tasks = {}
  for (let i = 0; i < 10; i++) tasks[`t${i}`] = { action: 'inc', input: i === 0 ? '{{ input }}' : `{{ tasks.t${i - 1}.result }}`, ...(i < 9 ? { next: { do: `t${i + 1}` } } : {}) }
  engines[mode] = {
    engine,
    chain: engine.workflow({ name: 'chain', tasks, output: '{{ tasks.t9.result }}' }),
    one: engine.workflow({ name: 'one', tasks: { t: { action: 'inc', input: '{{ input }}' } }, output: '{{ tasks.t.result }}' }),
  }
}
const plain = sqliteLoop.open(path.join(dir, 'plain.db'))
const concurrent = (mode) => Promise.all(Array.from({ length: 64 }, () => engines[mode].engine.run(engines[mode].one, 0)))

/** `runs` chain runs with at most 64 in flight. */
async function chainRuns(mode, runs) {
  const { engine, chain } = engines[mode]
  let started = 0
  const worker = async () => {
    while (started++ < runs) await engine.run(chain, 0)
  }
  await Promise.all(Array.from({ length: 64 }, worker))
}

/**
 * The event loop's delay during one 100,000-item run (100,000 task
 * executions, 64 in flight), whose action waits 1 ms like real I/O, in
 * memory and with each durability. `monitorEventLoopDelay` samples every
 * 1 ms and records whole intervals: the delay is the excess over 1 ms.
 */
async function eventLoopDuringDurableRun() {
  const result = {}
  for (const mode of ['none', 'batched', 'sync']) {
    const engine = mode === 'none' ? new Engine() : new Engine({ store: `sqlite:${path.join(dir, `loop-${mode}.db`)}`, durability: mode })
    engine.action('io', (n) => new Promise((resolve) => setTimeout(() => resolve(n + 1), 1)))
    const fan = engine.workflow({ name: 'fan', tasks: { each: { action: 'io', with: { items: '{{ range(input) }}', concurrency: 64 }, input: '{{ item }}' } }, output: '{{ tasks.each.result | length }}' })
    const histogram = monitorEventLoopDelay({ resolution: 1 })
    const t0 = process.hrtime.bigint()
    histogram.enable()
    await engine.run(fan, 100_000)
    histogram.disable()
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9
    await engine.close()
    const excess = (ns) => Math.max(0, ns / 1e6 - 1)
    result[mode] = { seconds, samples: histogram.count, delayMs: { p50: excess(histogram.percentile(50)), p99: excess(histogram.percentile(99)), max: excess(histogram.max) } }
    console.log(`100,000-item run, ${mode}: ${seconds.toFixed(2)} s; event-loop delay p50 ${result[mode].delayMs.p50.toFixed(2)} ms, p99 ${result[mode].delayMs.p99.toFixed(2)} ms, max ${result[mode].delayMs.max.toFixed(2)} ms (${histogram.count} samples)`)
  }
  fs.writeFileSync(path.join(folder, 'durable-loop.json'), JSON.stringify(result, null, 2) + '\n')
}

b.suite(
  'engine-durable',
  configure(3),
  b.add('10-task chain, in memory', async () => { await engines.none.engine.run(engines.none.chain, 0) }),
  b.add('10-task chain, batched (SQLite)', async () => { await engines.batched.engine.run(engines.batched.chain, 0) }),
  b.add('plain better-sqlite3 loop, 10 steps, an INSERT per step', async () => { await plain.chain10(0) }),
  b.add('1,000 chain runs (10,000 tasks), batched, until committed', async () => {
    await chainRuns('batched', 1_000)
    await engines.batched.engine.flush()
  }),
  b.add('64 concurrent one-task runs, in memory', async () => { await concurrent('none') }),
  b.add('64 concurrent one-task runs, sync (SQLite, group commit)', async () => { await concurrent('sync') }),
  b.cycle(),
  b.save({ file: 'engine-durable', folder, format: 'json', details: true }),
).then(async () => {
  await eventLoopDuringDurableRun()
  const stats = engines.batched.engine.stats().store
  console.log(`batched store: ${stats.committed} writes committed in ${stats.batches} batches`)
  for (const { engine } of Object.values(engines)) await engine.close()
  plain.close()
  fs.rmSync(dir, { recursive: true, force: true })
})
