// The engine with the durable store, beside the same workloads in memory:
// a 10-task chain one run at a time (the JS thread's cost per task with
// `batched`), and 64 concurrent one-task runs with `sync` (completions per
// second with group commit).
'use strict'
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const w = require('./engine-workloads.js')
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
const concurrent = (mode) => Promise.all(Array.from({ length: 64 }, () => engines[mode].engine.run(engines[mode].one, 0)))

b.suite(
  'engine-durable',
  configure(3),
  b.add('10-task chain, in memory', async () => { await engines.none.engine.run(engines.none.chain, 0) }),
  b.add('10-task chain, batched (SQLite)', async () => { await engines.batched.engine.run(engines.batched.chain, 0) }),
  b.add('64 concurrent one-task runs, in memory', async () => { await concurrent('none') }),
  b.add('64 concurrent one-task runs, sync (SQLite, group commit)', async () => { await concurrent('sync') }),
  b.cycle(),
  b.save({ file: 'engine-durable', folder, format: 'json', details: true }),
).then(async () => {
  const stats = engines.batched.engine.stats().store
  console.log(`batched store: ${stats.committed} writes committed in ${stats.batches} batches`)
  for (const { engine } of Object.values(engines)) await engine.close()
  fs.rmSync(dir, { recursive: true, force: true })
})
