// Many worker processes on one PostgreSQL (issue 13): 4 workers drain
// 10,000 runs, each ending exactly once; a worker killed -9 mid-run has its
// runs taken over and finished by another; a PostgreSQL restart under load
// loses nothing. Real processes, a real cluster (support/postgres.ts).
import test from 'ava'

import { Engine } from '../lib/index'
import { usePostgres } from './support/postgres'
import { startWorker, stopWorker, type WorkerProcess } from './support/workers'

const pg = usePostgres(test)

function producer(url: string): Engine {
  return new Engine({ store: url, flushIntervalMs: 10, handleSignals: false })
}

/** Enqueues `n` runs of `one` with inputs `{ i, ...extra }`, a few hundred at a time. */
async function enqueueMany(engine: Engine, n: number, extra: Record<string, unknown> = {}): Promise<string[]> {
  const ids: string[] = []
  for (let start = 0; start < n; start += 500) {
    const batch = Array.from({ length: Math.min(500, n - start) }, (_, k) => engine.enqueue('one', { i: start + k, ...extra }).then((r) => r.id))
    ids.push(...(await Promise.all(batch)))
  }
  return ids
}

const schemaOf = (url: string): string => new URL(url).searchParams.get('schema')!

/** How many runs the store has by status. */
async function statuses(url: string): Promise<Record<string, number>> {
  const rows = await pg.cluster.sql('select status, count(*) from runs group by status order by status', schemaOf(url))
  return Object.fromEntries(rows.split('\n').filter(Boolean).map((line) => {
    const [status, count] = line.split('|')
    return [status!, Number(count)]
  }))
}

function killAll(workers: WorkerProcess[]): void {
  for (const w of workers) w.process.kill('SIGKILL')
}

test.serial('4 worker processes drain 10,000 runs: each ends exactly once, no task runs twice, outputs are right', async (t) => {
  const url = pg.url()
  const engine = producer(url)
  t.teardown(() => engine.close())
  const N = Number(process.env.ARCFLOW_TEST_RUNS ?? 10_000)
  const ids = await enqueueMany(engine, N)
  const workers = Array.from({ length: 4 }, () => startWorker(url, { concurrency: 64 }))
  t.teardown(() => killAll(workers))
  const outputs = await Promise.all(ids.map((id) => engine.result<{ input: { i: number } }>(id, { timeout: 600_000 })))
  t.deepEqual(outputs.map((o) => o.input.i), ids.map((_, i) => i))
  const stats = await Promise.all(workers.map((w) => stopWorker(w)))
  t.is(stats.reduce((sum, s) => sum + (s.claimed as number), 0), N)
  t.is(stats.reduce((sum, s) => sum + (s.completed as number), 0), N)
  // every worker took a share (claims are batched up to free capacity, not all to the first)
  t.true(stats.every((s) => (s.claimed as number) > 0), JSON.stringify(stats))
  // each task started once, across all workers
  const started = workers.flatMap((w) => w.lines.filter((l) => 'started' in l).map((l) => l.started as string))
  t.is(started.length, N)
  t.is(new Set(started).size, N)
  t.deepEqual(await statuses(url), { succeeded: N })
  t.is(await pg.cluster.sql("select count(*) from executions where status = 'succeeded'", schemaOf(url)), String(N))
})

test.serial('kill -9 of a worker mid-run: another takes each of its runs over after the lease and finishes it; outputs equal uninterrupted runs', async (t) => {
  const url = pg.url()
  const engine = producer(url)
  t.teardown(() => engine.close())
  const N = 200
  // each run holds its worker a while, so the killed one has runs in flight
  const ids = await enqueueMany(engine, N, { hold: { w: 100 } })
  const doomed = startWorker(url, { concurrency: 20, lease: 1_000 })
  const survivor = startWorker(url, { concurrency: 20, lease: 1_000 })
  t.teardown(() => killAll([doomed, survivor]))
  // kill it once it has started some runs and finished some
  await doomed.waitFor((l) => l.event === 'run.succeeded')
  await doomed.waitFor((l) => doomed.lines.filter((x) => 'started' in x).length >= 30 && 'started' in l)
  doomed.process.kill('SIGKILL')
  await doomed.exited
  const outputs = await Promise.all(ids.map((id) => engine.result<{ input: { i: number }; tag: string }>(id, { timeout: 120_000 })))
  t.deepEqual(outputs, ids.map((_, i) => ({ input: { i, hold: { w: 100 } }, tag: 'w' })))
  const stats = await stopWorker(survivor)
  t.true((stats.takenOver as number) > 0, `the survivor took runs over: ${JSON.stringify(stats)}`)
  t.deepEqual(await statuses(url), { succeeded: N })
  // no run has two successful executions: a completed task never ran again
  t.is(await pg.cluster.sql("select count(*) from (select run_id from executions where status = 'succeeded' group by run_id having count(*) > 1) d", schemaOf(url)), '0')
})

test.serial('pg_ctl restart under load: workers reconnect, every run ends once, nothing acknowledged is lost', async (t) => {
  const url = pg.url()
  const engine = producer(url)
  t.teardown(() => engine.close())
  const N = 600
  const ids = await enqueueMany(engine, N, { hold: { w: 20 } })
  const workers = [startWorker(url, { concurrency: 16 }), startWorker(url, { concurrency: 16 })]
  t.teardown(() => killAll(workers))
  // both workers running (engine.work() on a server that is shutting down is a StoreError at once, like an Engine's open)
  await Promise.all(workers.map((w) => w.waitFor((l) => 'ready' in l)))
  await workers[0]!.waitFor((l) => l.event === 'run.succeeded')
  await pg.cluster.restart()
  const outputs = await Promise.all(ids.map((id) => engine.result<{ input: { i: number } }>(id, { timeout: 300_000 })))
  t.deepEqual(outputs.map((o) => o.input.i), ids.map((_, i) => i))
  // every run the workers said succeeded is in the store as succeeded
  const acknowledged = new Set(workers.flatMap((w) => w.lines.filter((l) => l.event === 'run.succeeded').map((l) => l.runId as string)))
  const stats = await Promise.all(workers.map((w) => stopWorker(w)))
  t.true(acknowledged.size >= N - stats.reduce((sum, s) => sum + (s.lostLeases as number), 0))
  t.deepEqual(await statuses(url), { succeeded: N })
})
