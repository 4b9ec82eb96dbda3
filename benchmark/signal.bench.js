// Signal → the waiting task's `task.succeeded`, in process: arcflow's
// `wait` (a run started, its wait reached, then timed from `run.signal`
// to the event) beside LangGraph.js's `interrupt()` + `Command({ resume })`
// on a one-node graph with a MemorySaver (timed from the resume invoke to
// its end). Both load in this one process, as the issue asks (LangGraph's
// AsyncLocalStorage then taxes arcflow's promises too: arcflow's figure
// here is, if anything, pessimistic).
'use strict'
require('node:events').setMaxListeners(0)
const { Engine } = require('..')
const { interruptGraph, resume } = require('./peers/langgraph-interrupt.js')
const w = require('./engine-workloads.js')

const { b, folder, configure } = w

const engine = new Engine()
const wf = engine.workflow({ name: 'approve', tasks: { approve: { wait: 'go' } } })

/** One signal: a run waits, the signal goes, its task.succeeded comes (the run's whole cycle). */
async function arcflowSignal() {
  const run = engine.start(wf, {})
  const events = run.events()
  for await (const e of events) {
    if (e.type === 'task.waiting') void run.signal('go', { ok: true })
    else if (e.type === 'task.succeeded') break
  }
}

const graph = interruptGraph()
let thread = 0

async function langgraphInterrupt() {
  const config = { configurable: { thread_id: String(++thread) } }
  await graph.invoke({ answer: null }, config)
  await graph.invoke(resume({ ok: true }), config)
}

b.suite(
  'signal',
  configure(3),
  b.add('arcflow: start, wait, signal → task.succeeded (one run per signal)', arcflowSignal),
  b.add('LangGraph.js: invoke to interrupt(), then Command({ resume }) (one thread per resume)', langgraphInterrupt),
  b.cycle(),
  b.save({ file: 'signal', folder, format: 'json', details: true }),
)
