// Issue 14's figures, in process, in memory:
// - a signal → the waiting task's `task.succeeded`, for runs already parked
//   in their wait (their start is not timed), beside LangGraph.js's
//   `Command({ resume })` after an `interrupt()` on a one-node graph with a
//   MemorySaver (the interrupting invoke is not timed either);
// - a cache hit beside running the action (one-task runs);
// - a sub-workflow task beside an action task (the added cost per child run).
// All are timed by hand in rounds: the parked cases (a batch of runs
// parked, then signalled and timed), and the one-task cases taking turns
// within each round. Results are saved in benny's shape, so the summary
// reads them like any suite.
'use strict'
require('node:events').setMaxListeners(0)
const fs = require('node:fs')
const path = require('node:path')
const { Engine } = require('..')
const { interruptGraph, resume } = require('./peers/langgraph-interrupt.js')
const { folder } = require('./engine-workloads.js')

const ROUNDS = 15
const PARKED = 2_000
const LANGGRAPH_PER_ROUND = 200
/** Runs per case per round of the interleaved one-task cases. */
const RUNS_PER_ROUND = 5_000

const median = (xs) => [...xs].sort((a, c) => a - c)[Math.floor(xs.length / 2)]

/** The round in progress: the engine's one listener counts its events (an engine listener stays for good). */
let round
function listen(engine) {
  engine.on('event', (e) => {
    if (e.type === 'task.waiting' && ++round.waiting === PARKED) round.parked()
    else if (e.type === 'task.succeeded' && ++round.succeeded === PARKED) round.done()
  })
}

/** Per-signal seconds of one round: PARKED runs parked in their wait, then all signalled at once. */
async function arcflowRound(engine, wf) {
  round = { waiting: 0, succeeded: 0 }
  const allParked = new Promise((resolve) => (round.parked = resolve))
  const allDone = new Promise((resolve) => (round.done = resolve))
  const runs = Array.from({ length: PARKED }, () => engine.start(wf, {}))
  await allParked
  const t0 = process.hrtime.bigint()
  for (const run of runs) void run.signal('go', { ok: true })
  await allDone
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9
  await Promise.all(runs.map((r) => r.result()))
  return seconds / PARKED
}

async function langgraphRound(graph, round) {
  const configs = Array.from({ length: LANGGRAPH_PER_ROUND }, (_, i) => ({ configurable: { thread_id: `${round}-${i}` } }))
  for (const config of configs) await graph.invoke({ answer: null }, config)
  const t0 = process.hrtime.bigint()
  for (const config of configs) await graph.invoke(resume({ ok: true }), config)
  return Number(process.hrtime.bigint() - t0) / 1e9 / LANGGRAPH_PER_ROUND
}

function benny(name, samples) {
  const m = median(samples)
  return { name, ops: Math.round(1 / m), margin: 0, samples: samples.length, details: { median: m, min: Math.min(...samples), max: Math.max(...samples), sampleResults: samples } }
}

async function parked() {
  const engine = new Engine()
  const wf = engine.workflow({ name: 'approve', tasks: { approve: { wait: 'go' } } })
  listen(engine)
  const graph = interruptGraph()
  const arcflow = []
  const langgraph = []
  await arcflowRound(engine, wf) // warm-up
  for (let round = 0; round < ROUNDS; round++) {
    arcflow.push(await arcflowRound(engine, wf))
    langgraph.push(await langgraphRound(graph, round))
  }
  await engine.close()
  return [
    benny(`arcflow: signal → task.succeeded, run parked in its wait (per signal, ${PARKED} parked)`, arcflow),
    benny('LangGraph.js: Command({ resume }) after interrupt(), MemorySaver (per resume)', langgraph),
  ]
}

async function main() {
  const results = await parked()
  fs.writeFileSync(path.join(folder, 'waits-signal.json'), JSON.stringify({ name: 'waits-signal', date: new Date().toISOString(), results }, null, 2))

  const engine = new Engine()
  engine.action('work', async (n) => n + 1)
  const action = engine.workflow({ name: 'action', tasks: { t: { action: 'work', input: '{{ input }}' } }, output: '{{ tasks.t.result }}' })
  const cached = engine.workflow({ name: 'cached', tasks: { t: { action: 'work', input: '{{ input }}', cache: { key: 'always-the-same', ttl: '1h' } } }, output: '{{ tasks.t.result }}' })
  engine.workflow({ name: 'child', tasks: { t: { action: 'work', input: '{{ input }}' } }, output: '{{ tasks.t.result }}' })
  const parent = engine.workflow({ name: 'parent', tasks: { c: { workflow: 'child', input: '{{ input }}' } }, output: '{{ tasks.c.result }}' })
  await engine.run(cached, 1) // the entry the hits read
  // the three cases take turns, round after round (medians of the rounds):
  // one case after another, as benny runs them, let the machine's drift and
  // the heap's state land on one case more than another (their ratio moved
  // 1.9–2.8× between runs)
  const cases = [
    ['one-task run, action', action],
    ['one-task run, cache hit (the action not run)', cached],
    ['one-task run whose task is a sub-workflow of one action task', parent],
  ]
  const samples = cases.map(() => [])
  const timeRound = async (wf) => {
    const t0 = process.hrtime.bigint()
    for (let i = 0; i < RUNS_PER_ROUND; i++) await engine.run(wf, 1)
    return Number(process.hrtime.bigint() - t0) / 1e9 / RUNS_PER_ROUND
  }
  for (const [, wf] of cases) await timeRound(wf) // warm-up
  for (let round = 0; round < ROUNDS; round++) {
    for (const [i, [, wf]] of cases.entries()) samples[i].push(await timeRound(wf))
  }
  await engine.close()
  const oneTask = cases.map(([name], i) => benny(name, samples[i]))
  fs.writeFileSync(path.join(folder, 'waits.json'), JSON.stringify({ name: 'waits', date: new Date().toISOString(), results: oneTask }, null, 2))
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
