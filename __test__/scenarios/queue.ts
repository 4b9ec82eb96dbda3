// Queues and workers on any store (issue 13): producers in this process,
// workers in child processes (support/workers.ts). Run against SQLite by
// queue.spec.ts and PostgreSQL by postgres-queue.spec.ts.
import type { ExecutionContext, TestFn } from 'ava'

import { Engine, InputError, QueueError, RunFailedError, RunStoppedError, AbortedError } from '../../lib/index'
import { startWorker, stopWorker, type Line } from '../support/workers'

const ONE = { name: 'one', tasks: { s: { action: 'step', input: '{{ input }}' } }, output: '{{ tasks.s.result }}' }

/** A producer: an engine with no actions at all. */
function producer(store: string): Engine {
  return new Engine({ store, flushIntervalMs: 10, handleSignals: false })
}

const isEvent = (type: string, runId: string) => (l: Line) => l.event === type && l.runId === runId

export function queueScenarios(test: TestFn, store: () => string, label: string): void {
  test(`${label}: enqueue writes a queued run; the same key answers the same run; bad options write nothing`, async (t) => {
    const url = store()
    const engine = producer(url)
    t.teardown(() => engine.close())
    const a = await engine.enqueue('one', { n: 1 }, { key: 'order-42', priority: 3 })
    const b = await engine.enqueue('one', { n: 2 }, { key: 'order-42' })
    t.deepEqual(a, { id: a.id, created: true, status: 'queued' })
    t.deepEqual(b, { id: a.id, created: false, status: 'queued' })
    const info = await engine.getRun(a.id)
    t.is(info?.status, 'queued')
    t.deepEqual(info?.input, { n: 1 })
    t.deepEqual((await engine.runs({ status: 'queued' })).map((r) => r.id), [a.id])
    for (const bad of [{ queue: '' }, { priority: 1.5 }, { delay: 'soon' }, { key: '' }, { delay: '1s', runAt: Date.now() }, { account: 7 }]) {
      await t.throwsAsync(engine.enqueue('one', {}, bad as never), { instanceOf: InputError })
    }
    await t.throwsAsync(engine.enqueue('one', { big: 10n }), { code: 'ARCFLOW_INVALID_VALUE' })
    t.is((await engine.runs({})).length, 1)
  })

  test(`${label}: a worker process drains enqueued runs; result() in another process has each output`, async (t) => {
    const url = store()
    const engine = producer(url)
    t.teardown(() => engine.close())
    const ids = await Promise.all(Array.from({ length: 20 }, (_, i) => engine.enqueue('one', { i }).then((r) => r.id)))
    const worker = startWorker(url, { concurrency: 8 })
    t.teardown(() => void worker.process.kill('SIGKILL'))
    const outputs = await Promise.all(ids.map((id) => engine.result<{ input: { i: number } }>(id, { timeout: 30_000 })))
    t.deepEqual(outputs.map((o) => o.input.i), ids.map((_, i) => i))
    const stats = await stopWorker(worker)
    t.like(stats, { claimed: 20, completed: 20, lostLeases: 0, running: 0 })
    t.deepEqual(new Set((await engine.runs({ limit: 100 })).map((r) => r.status)), new Set(['succeeded']))
    // each run started exactly once
    t.is(worker.lines.filter((l) => 'started' in l).length, 20)
  })

  test(`${label}: priority first, a delayed run waits, a run due in the past is claimed`, async (t) => {
    const url = store()
    const engine = producer(url)
    t.teardown(() => engine.close())
    const order = [0, 5, -2, 9, 3]
    const ids = new Map<string, number>()
    for (const p of order) ids.set((await engine.enqueue('one', { p }, { priority: p })).id, p)
    const later = await engine.enqueue('one', { later: true }, { delay: '1h' })
    const past = await engine.enqueue('one', { past: true }, { runAt: new Date(Date.now() - 60_000), priority: -5 })
    const worker = startWorker(url, { concurrency: 1 })
    t.teardown(() => void worker.process.kill('SIGKILL'))
    await engine.result(past.id, { timeout: 30_000 })
    for (const id of ids.keys()) await engine.result(id, { timeout: 30_000 })
    const started = worker.lines.filter((l) => 'started' in l).map((l) => l.started as string)
    t.deepEqual(started, [...[...ids].sort((a, b) => b[1] - a[1]).map(([id]) => id), past.id])
    t.is((await engine.getRun(later.id))?.status, 'queued')
    await stopWorker(worker)
    t.is((await engine.getRun(later.id))?.status, 'queued')
  })

  test(`${label}: a queue's limit holds across two worker processes`, async (t) => {
    const url = store()
    const engine = producer(url)
    t.teardown(() => engine.close())
    await engine.queue('llm', { concurrency: 2 })
    await t.throwsAsync(engine.queue('llm', { concurrency: 0 }), { instanceOf: InputError })
    const ids = await Promise.all(Array.from({ length: 8 }, (_, i) => engine.enqueue('one', { i }, { queue: 'llm' }).then((r) => r.id)))
    const workers = [startWorker(url, { queues: ['llm'], concurrency: 5, hold: 150 }), startWorker(url, { queues: ['llm'], concurrency: 5, hold: 150 })]
    t.teardown(() => workers.forEach((w) => w.process.kill('SIGKILL')))
    // sample how many runs of the queue are running, by the store, until all are done
    let most = 0
    const done = Promise.all(ids.map((id) => engine.result(id, { timeout: 60_000 })))
    let finished = false
    void done.finally(() => (finished = true))
    while (!finished) {
      most = Math.max(most, (await engine.runs({ status: 'running', limit: 100 })).length)
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    await done
    t.true(most <= 2, `the store never showed more than 2 running at once, saw ${most}`)
    const claimed = await Promise.all(workers.map((w) => stopWorker(w)))
    t.is(claimed.reduce((sum, s) => sum + (s.claimed as number), 0), 8)
    // the steps' own spans, by the clock both processes share: each lies within
    // its run's hold on the queue (claim to end), so they never overlap more
    // than the limit allows (an end before a start in the same millisecond)
    const spans = workers.flatMap((w) => w.lines.filter((l) => 'stepped' in l)).map((l) => [l.from as number, l.to as number])
    t.is(spans.length, 8)
    const edges = spans.flatMap(([from, to]) => [[from, 1], [to, -1]]).sort((a, b) => a[0] - b[0] || a[1] - b[1])
    let overlap = 0
    let widest = 0
    for (const [, d] of edges) widest = Math.max(widest, (overlap += d))
    t.true(widest <= 2, `at most 2 steps at once across the two processes, saw ${widest}`)
  })

  test(`${label}: cancel from another process: a queued run never starts, a running one is cancelled by its worker`, async (t) => {
    const url = store()
    const engine = producer(url)
    t.teardown(() => engine.close())
    const queued = await engine.enqueue('one', { q: 1 }, { delay: '1h' })
    t.deepEqual(await engine.cancel(queued.id), { outcome: 'cancelled' })
    await t.throwsAsync(engine.result(queued.id), { instanceOf: RunStoppedError, code: 'ARCFLOW_RUN_CANCELLED' })
    t.deepEqual(await engine.cancel(queued.id), { outcome: 'ended', status: 'cancelled' })
    await t.throwsAsync(engine.cancel('no-such-run'), { instanceOf: QueueError })
    await t.throwsAsync(engine.cancel(queued.id, { policy: 'later' as never }), { instanceOf: InputError })

    const worker = startWorker(url, { hold: 60_000 })
    t.teardown(() => void worker.process.kill('SIGKILL'))
    const running = await engine.enqueue('one', { r: 1 })
    await worker.waitFor((l) => l.started === running.id)
    t.deepEqual(await engine.cancel(running.id), { outcome: 'forwarded' })
    await t.throwsAsync(engine.result(running.id, { timeout: 30_000 }), { instanceOf: RunStoppedError })
    const aborted = await worker.waitFor((l) => l.aborted === running.id)
    t.false(aborted.lease)
    t.is((await engine.getRun(running.id))?.status, 'cancelled')
    await stopWorker(worker)
  })

  test(`${label}: an unknown workflow fails its run with the error recorded; the worker goes on; a key answers its run whatever its state`, async (t) => {
    const url = store()
    const engine = producer(url)
    t.teardown(() => engine.close())
    const unknown = await engine.enqueue('no-such-flow', { x: 1 }, { key: 'unknown-1' })
    const fine = await engine.enqueue('one', { x: 2 }, { key: 'fine-2' })
    const worker = startWorker(url, {})
    t.teardown(() => void worker.process.kill('SIGKILL'))
    const error = await t.throwsAsync(engine.result(unknown.id, { timeout: 30_000 }), { instanceOf: RunFailedError })
    t.is(error?.failure.name, 'UnknownWorkflowError')
    t.regex(error!.failure.message, /no-such-flow/)
    const info = await engine.getRun(unknown.id)
    t.is(info?.status, 'failed')
    t.like(info?.error, { name: 'UnknownWorkflowError', code: 'ARCFLOW_UNKNOWN_WORKFLOW' })
    t.deepEqual(await engine.result(fine.id, { timeout: 30_000 }), { input: { x: 2 }, tag: 'w' })
    await worker.waitFor((l) => l.code === 'ARCFLOW_UNKNOWN_WORKFLOW')
    await stopWorker(worker)
    // ended, failed or succeeded: the same key answers the run it made (the key holds as long as the run is in the store)
    t.deepEqual(await engine.enqueue('no-such-flow', { x: 3 }, { key: 'unknown-1' }), { id: unknown.id, created: false, status: 'failed' })
    t.deepEqual(await engine.enqueue('one', { x: 4 }, { key: 'fine-2' }), { id: fine.id, created: false, status: 'succeeded' })
  })

  test(`${label}: result() gives up on its signal or timeout`, async (t) => {
    const url = store()
    const engine = producer(url)
    t.teardown(() => engine.close())
    const { id } = await engine.enqueue('one', {}, { delay: '1h' })
    const error = await t.throwsAsync(engine.result(id, { timeout: 50 }), { instanceOf: AbortedError })
    t.is((error?.cause as Error).name, 'TimeoutError')
    await t.throwsAsync(engine.result(id, { signal: AbortSignal.abort() }), { instanceOf: AbortedError })
    await t.throwsAsync(engine.result('no-such-run'), { instanceOf: QueueError })
  })

  test(`${label}: stop({ drain: true }) finishes the runs in flight; stop({ drain: false }) releases them to another worker`, async (t) => {
    const url = store()
    const engine = producer(url)
    t.teardown(() => engine.close())
    const drained = await engine.enqueue('one', { d: 1 })
    const a = startWorker(url, { hold: 300, tag: 'a' })
    t.teardown(() => void a.process.kill('SIGKILL'))
    await a.waitFor((l) => l.started === drained.id)
    const statsA = await stopWorker(a, true)
    t.like(statsA, { claimed: 1, completed: 1 })
    t.deepEqual(await engine.result(drained.id), { input: { d: 1 }, tag: 'a' })

    const released = await engine.enqueue('one', { d: 2 })
    const b = startWorker(url, { hold: 60_000, tag: 'b' })
    t.teardown(() => void b.process.kill('SIGKILL'))
    await b.waitFor((l) => l.started === released.id)
    const statsB = await stopWorker(b, false)
    t.like(statsB, { claimed: 1, completed: 0 })
    t.like(await b.waitFor((l) => l.aborted === released.id), { reason: 'LeaseLostError' })
    t.truthy(b.lines.find(isEvent('run.lease_lost', released.id)))
    const c = startWorker(url, { tag: 'c' })
    t.teardown(() => void c.process.kill('SIGKILL'))
    t.deepEqual(await engine.result(released.id, { timeout: 30_000 }), { input: { d: 2 }, tag: 'c' })
    t.like(await stopWorker(c), { claimed: 1, completed: 1, takenOver: 1 })
  })

  test(`${label}: SIGSTOP a worker past its lease: another takes its runs over; after SIGCONT the stale worker aborts them (LeaseLostError) and its late writes are refused`, async (t) => {
    const url = store()
    const engine = producer(url)
    t.teardown(() => engine.close())
    // `late`: the stale worker's handler ends 1 s after it starts, while it is stopped, so at once after SIGCONT;
    // `long`: still in flight then, so its signal is what tells it
    engine.credit('acme', 100, { key: 'top-up' })
    await engine.flush()
    const late = await engine.enqueue('one', { n: 'late', hold: { stale: 1_000 } }, { account: 'acme' })
    const long = await engine.enqueue('one', { n: 'long', hold: { stale: 600_000 } }, { account: 'acme' })
    const stale = startWorker(url, { lease: 1_000, tag: 'stale', concurrency: 2 })
    t.teardown(() => void stale.process.kill('SIGKILL'))
    // stopped with no transaction open (PostgreSQL would hold its row locks, and a claim skips locked rows)
    await stale.waitFor((l) => l.flushed === late.id)
    await stale.waitFor((l) => l.flushed === long.id)
    stale.process.kill('SIGSTOP')
    // a long lease: a slow turn of this worker under load must not hand the runs back to the stale one
    const fresh = startWorker(url, { lease: 10_000, tag: 'fresh' })
    t.teardown(() => void fresh.process.kill('SIGKILL'))
    for (const run of [late, long]) t.like(await engine.result(run.id, { timeout: 30_000 }), { tag: 'fresh' })
    // the stale worker's 1 s hold is over by now (the new worker waited a whole lease for the runs)
    await new Promise((resolve) => setTimeout(resolve, 1_100))
    stale.process.kill('SIGCONT')
    await stale.waitFor(isEvent('run.lease_lost', late.id))
    await stale.waitFor(isEvent('run.lease_lost', long.id))
    t.like(await stale.waitFor((l) => l.aborted === long.id), { reason: 'LeaseLostError', lease: true })
    t.like(await stopWorker(stale), { claimed: 2, completed: 0, lostLeases: 2 })
    t.like(await stopWorker(fresh), { claimed: 2, completed: 2, takenOver: 2 })
    // nothing of the stale worker landed: each run's output and executions are the new worker's
    for (const run of [late, long]) {
      const info = await engine.getRun(run.id)
      t.is(info?.status, 'succeeded')
      t.like(info?.output, { tag: 'fresh' })
      const succeeded = info!.tasks.filter((x) => x.status === 'succeeded')
      t.is(succeeded.length, 1)
      t.like(succeeded[0]!.result, { tag: 'fresh' })
    }
    // one charge per run, the new worker's attempt's: the stale worker's late completion was never billed
    const charges = (await engine.ledger('acme')).filter((e) => e.kind === 'charge')
    t.deepEqual(charges.map((c) => [c.runId, c.attempt, c.amount]).sort(), [[late.id, 2, -1], [long.id, 2, -1]].sort())
  })
}

export type { ExecutionContext }
