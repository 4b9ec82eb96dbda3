// A claim commits without waiting for its fsync (store/postgres/queue.rs):
// a crash of the database may lose it, leaving the run `queued` at its old
// epoch, and the same worker may claim it again, at the same epoch. Such a
// claim is not "still held": the first attempt is let go (LeaseLostError,
// run.lease_lost) and the run resumed from its journal, ending once. The
// lost claim is made by hand here, as the crash's recovery leaves the row.
import test from 'ava'

import { Engine, LeaseLostError, type RunEvent } from '../lib/index'
import { usePostgres } from './support/postgres'

const pg = usePostgres(test)
const schemaOf = (url: string): string => new URL(url).searchParams.get('schema')!

test('a run claimed again by its own worker (its claim lost by a crash) drops its first attempt and is resumed, ending once', async (t) => {
  const url = pg.url()
  const engine = new Engine({ store: url, handleSignals: false })
  t.teardown(() => engine.close())
  const attempts: Array<{ signal: AbortSignal; release: () => void }> = []
  engine.action('gated', (input, { signal }) => new Promise((resolve) => attempts.push({ signal, release: () => resolve(input) })))
  engine.action('step', (input) => input)
  engine.workflow({
    name: 'gated',
    tasks: { g: { action: 'gated', input: '{{ input }}', retry: { count: 2 } } },
    output: '{{ tasks.g.result }}',
  })
  engine.workflow({ name: 'one', tasks: { s: { action: 'step', input: '{{ input }}' } }, output: '{{ tasks.s.result }}' })
  const worker = engine.work({ concurrency: 4, prefetch: 0 })
  const events: RunEvent[] = []
  worker.on('event', (e: RunEvent) => events.push(e))
  const { id } = await engine.enqueue('gated', { n: 7 })
  while (attempts.length < 1) await new Promise((resolve) => setTimeout(resolve, 5))
  // its start committed: nothing of the first attempt waits in the writer
  await engine.flush()
  // what recovery leaves of a claim lost with the WAL that held it
  await pg.cluster.sql(`update runs set status = 'queued', owner = null, lease_until = null, epoch = epoch - 1 where id = '${id}'`, schemaOf(url))
  // an enqueue here wakes the worker, whose claim takes the run again
  const other = await engine.enqueue('one', { m: 1 })
  while (attempts.length < 2) await new Promise((resolve) => setTimeout(resolve, 5))
  t.true(attempts[0]!.signal.aborted, 'the first attempt is aborted')
  t.true(attempts[0]!.signal.reason instanceof LeaseLostError)
  t.false(attempts[1]!.signal.aborted)
  attempts[1]!.release()
  t.deepEqual(await engine.result(id, { timeout: 30_000 }), { n: 7 })
  t.deepEqual(await engine.result(other.id, { timeout: 30_000 }), { m: 1 })
  await worker.stop()
  t.like(worker.stats(), { claimed: 3, completed: 2, lostLeases: 1, takenOver: 1, running: 0 })
  t.is(events.filter((e) => e.runId === id && e.type === 'run.lease_lost').length, 1)
  t.is(events.filter((e) => e.runId === id && e.type === 'run.resumed').length, 1)
  t.is(await pg.cluster.sql(`select status from runs where id = '${id}'`, schemaOf(url)), 'succeeded')
  t.is(await pg.cluster.sql(`select count(*) from executions where run_id = '${id}' and status = 'succeeded'`, schemaOf(url)), '1')
})
