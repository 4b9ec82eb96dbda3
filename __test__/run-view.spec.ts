// A Run's layers (run-lifecycle.ts, run-steps.ts, run.ts) share their
// fields as plain properties; what JSON and console.log show of a run is
// still the run only, never the store, timers or the engine's bookkeeping.
import { inspect } from 'node:util'

import test from 'ava'

import { Engine } from '../lib/index'

test('JSON.stringify and util.inspect of a run show its id, workflow and status, nothing internal', async (t) => {
  const engine = new Engine()
  let release!: () => void
  const gate = new Promise<void>((resolve) => (release = resolve))
  engine.action('hold', () => gate.then(() => 1))
  const wf = engine.workflow({ name: 'held', tasks: { h: { action: 'hold' } } })
  // a timeout: the run holds a timer, which JSON cannot encode (a circular structure)
  const run = engine.start(wf, null, { timeout: 10_000 })
  t.deepEqual(JSON.parse(JSON.stringify(run)), { id: run.id, workflow: 'held', status: 'running' })
  t.is(inspect(run, { depth: 4 }).replace(/\s+/g, ' '), `Run { id: '${run.id}', workflow: 'held', status: 'running' }`)
  release()
  await run.result()
  t.deepEqual(JSON.parse(JSON.stringify(run)), { id: run.id, workflow: 'held', status: 'succeeded' })
  await engine.close()
})
