// A worker's lease renewals (lib/queue/leases.ts), with its collaborators
// faked: a run missing from a renewal's answer is lost, unless it ended
// here and waits for its end's commit (that commit cleared the run's
// owner, so a renewal sent before this process heard of it misses the run;
// the 4-worker drain under load counted such runs as lost leases instead
// of completed).
import test from 'ava'

import { Leases } from '../lib/queue/leases'

test('a renewal that misses a run whose end waits for its commit (batched, or sync and recorded) leaves it held; a live or buffered run it misses is lost; one it names but the worker does not hold is released', async (t) => {
  const lost: string[] = []
  const released: Array<[string, Array<[string, number]>]> = []
  let answered!: () => void
  const renewed = new Promise<void>((resolve) => (answered = resolve))
  const client = {
    renew: async (): Promise<Array<[string, number]>> => {
      // after the answer's handling (a microtask), before the next renewal
      setImmediate(answered)
      return [['kept', 1], ['orphan', 4]]
    },
    release: async (worker: string, runs: Array<[string, number]>): Promise<null> => {
      released.push([worker, runs])
      return null
    },
  }
  const store = { native: { takeLost: () => '[]' } }
  const held = new Map([
    ['kept', { epoch: 1, claimSeq: 0 }],
    ['ended', { epoch: 1, claimSeq: 0, ended: true }],
    // sync: its end is recorded (the run no longer live), its commit not yet heard
    ['ending', { epoch: 1, claimSeq: 0, run: { live: () => false } }],
    ['live', { epoch: 1, claimSeq: 0, run: { live: () => true } }],
    ['buffered', { epoch: 1, claimSeq: 0 }],
    ['taken', { epoch: 1, claimSeq: 0 }],
  ])
  const leases = new Leases(store as never, client as never, 'w', 300, {
    held: () => held,
    claimSeq: () => 1,
    lost: (id) => {
      lost.push(id)
      held.delete(id)
    },
    error: (error) => t.fail(error.message),
  })
  // the renewal timer is unref'd (a worker's process stays alive by its own timers): this one keeps the test's
  const alive = setInterval(() => {}, 1_000)
  t.teardown(() => {
    leases.stop()
    clearInterval(alive)
  })
  await renewed
  t.deepEqual(lost.sort(), ['buffered', 'live', 'taken'])
  t.deepEqual([...held.keys()].sort(), ['ended', 'ending', 'kept'])
  // the database's run of this worker that it does not hold (its claim's answer lost) is given back
  t.deepEqual(released, [['w', [['orphan', 4]]]])
})
