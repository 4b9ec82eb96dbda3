// Signals across processes: `engine.signal` in one process reaches a
// waiting run that a worker in another process holds, at once (no resume,
// no takeover): on PostgreSQL by the notice sent with the signal's commit,
// on SQLite by the worker's short poll of its waiting runs.
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import test, { type ExecutionContext } from 'ava'

import { Engine } from '../lib/index'
import { usePostgres } from './support/postgres'
import { startWorker, stopWorker, type WorkerProcess } from './support/workers'

const pg = usePostgres(test)

/** A producer engine and a worker process; a `gate` run enqueued and waiting in the worker. */
async function waitingRun(t: ExecutionContext, url: string): Promise<{ engine: Engine; worker: WorkerProcess; id: string }> {
  const engine = new Engine({ store: url, flushIntervalMs: 10, handleSignals: false })
  t.teardown(() => engine.close())
  // a lease far longer than the test: a takeover (and its resume) cannot be what delivers the signal
  const worker = startWorker(url, { lease: '10m' })
  t.teardown(() => worker.process.kill('SIGKILL'))
  await worker.waitFor((l) => 'ready' in l)
  const { id } = await engine.enqueue('gate', {})
  await worker.waitFor((l) => l.event === 'task.waiting' && l.runId === id)
  return { engine, worker, id }
}

async function signalReachesWorker(t: ExecutionContext, url: string): Promise<void> {
  const { engine, worker, id } = await waitingRun(t, url)
  await engine.signal(id, 'go', { by: 'ana' })
  const output = await engine.result<{ input: { got: unknown } }>(id, { timeout: 60_000 })
  t.deepEqual(output.input.got, { by: 'ana' })
  await worker.waitFor((l) => l.event === 'signal.received' && l.runId === id)
  // the run went on in the worker that held it: never resumed, never taken over
  t.false(worker.lines.some((l) => l.event === 'run.resumed'))
  const stats = await stopWorker(worker)
  t.is(stats.claimed, 1)
  t.is(stats.takenOver, 0)
  t.is(stats.completed, 1)
  // taken once: the journal says received (stored) once and taken once
  const events = await engine.getRun(id).then((info) => info!.events.map((e) => e.kind))
  t.is(events.filter((k) => k === 'signal.stored').length, 1)
  t.is(events.filter((k) => k === 'signal.taken').length, 1)
}

test.serial('postgres: engine.signal from another process reaches the waiting run a worker holds, at once', (t) => signalReachesWorker(t, pg.url()))

test.serial('sqlite (shared file): engine.signal from another process reaches the waiting run a worker holds, by its poll', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'arcflow-signals-'))
  return signalReachesWorker(t, `sqlite:${join(dir, 'q.db')}?locking=shared`)
})

test.serial('postgres: two signals from another process for one wait: the oldest is taken, the other kept, each delivered once', async (t) => {
  const { engine, worker, id } = await waitingRun(t, pg.url())
  await Promise.all([engine.signal(id, 'go', 1), engine.signal(id, 'go', 2)])
  t.is((await engine.result<{ input: { got: unknown } }>(id, { timeout: 60_000 })).input.got, 1)
  // the second is kept for a later wait: received twice, taken once
  const kinds = (await engine.getRun(id))!.events.map((e) => e.kind)
  t.is(kinds.filter((k) => k === 'signal.stored').length, 2)
  t.is(kinds.filter((k) => k === 'signal.taken').length, 1)
  await stopWorker(worker)
})
