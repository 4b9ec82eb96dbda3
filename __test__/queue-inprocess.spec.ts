// Queues within one process: a worker of the engine that enqueues, engines
// sharing one store, the PostgreSQL notices a process listens to, and the
// typed errors of misuse.
import test from 'ava'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { Engine, EngineClosedError, InputError, QueueError, RunStoppedError, type RunEvent } from '../lib/index'
import { listen, type Notice } from '../lib/queue/native'
import { usePostgres } from './support/postgres'

const pg = usePostgres(test)
const sqlite = (): string => `sqlite:${join(mkdtempSync(join(tmpdir(), 'arcflow-inproc-')), 'q.db')}`
const ONE = { name: 'one', tasks: { s: { action: 'step', input: '{{ input }}' } }, output: '{{ tasks.s.result }}' }

function workerEngine(store: string, step: (input: unknown, signal: AbortSignal) => unknown = (input) => input): Engine {
  const engine = new Engine({ store, handleSignals: false })
  engine.action('step', (input, { signal }) => step(input, signal))
  engine.workflow(ONE)
  return engine
}

test('a worker of the engine that enqueues runs its runs; its events are the runs\'', async (t) => {
  const engine = workerEngine(sqlite())
  t.teardown(() => engine.close())
  const worker = engine.work({ concurrency: 8 })
  const seen: RunEvent[] = []
  worker.on('run.succeeded', (e: RunEvent) => seen.push(e))
  const ids = await Promise.all(Array.from({ length: 50 }, (_, i) => engine.enqueue('one', { i }).then((r) => r.id)))
  t.deepEqual(await Promise.all(ids.map((id) => engine.result(id))), ids.map((_, i) => ({ i })))
  await worker.stop()
  t.like(worker.stats(), { claimed: 50, completed: 50, running: 0, lostLeases: 0 })
  t.deepEqual(seen.map((e) => e.runId).sort(), [...ids].sort())
})

test('prefetch: a claim takes runs ahead of free slots, which wait in the worker; no more than concurrency run at once', async (t) => {
  let now = 0
  let most = 0
  const gates: Array<() => void> = []
  const engine = workerEngine(sqlite(), (input) => {
    most = Math.max(most, ++now)
    return new Promise((resolve) => gates.push(() => (now--, resolve(input))))
  })
  t.teardown(() => engine.close())
  const ids = (await engine.enqueueMany('one', Array.from({ length: 30 }, (_, i) => i))).map((r) => r.id)
  const worker = engine.work({ concurrency: 2, prefetch: 5 })
  // the first claim holds 7 runs: 2 running, 5 buffered (still queued for no one else)
  while (gates.length < 2) await new Promise((resolve) => setTimeout(resolve, 5))
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.is(worker.stats().claimed, 7, 'concurrency + prefetch claimed')
  t.is(worker.stats().running, 2, 'buffered runs do not run')
  t.is((await engine.runs({ status: 'queued' })).length, 23)
  const release = setInterval(() => gates.shift()?.(), 1)
  t.teardown(() => clearInterval(release))
  t.deepEqual(await Promise.all(ids.map((id) => engine.result(id))), ids.map((_, i) => i))
  t.true(most <= 2, `at most 2 at once, saw ${most}`)
  await worker.stop()
  t.like(worker.stats(), { claimed: 30, completed: 30, running: 0 })
  t.throws(() => engine.work({ prefetch: -1 }), { instanceOf: InputError })
})

test('engines of one process on one store: one enqueues and cancels, the other works; the cancel reaches the worker', async (t) => {
  const store = sqlite()
  let aborted = 0
  const working = workerEngine(store, (_, signal) => new Promise((resolve) => signal.addEventListener('abort', () => resolve(++aborted))))
  const producing = new Engine({ store, handleSignals: false })
  t.teardown(async () => {
    await producing.close()
    await working.close()
  })
  const worker = working.work()
  const { id } = await producing.enqueue('one', { x: 1 })
  while (worker.stats().running === 0) await new Promise((resolve) => setTimeout(resolve, 5))
  t.deepEqual(await producing.cancel(id), { outcome: 'forwarded' })
  await t.throwsAsync(producing.result(id), { instanceOf: RunStoppedError })
  t.is(aborted, 1)
  await worker.stop()
})

test('misuse is a typed error: queues without a store, bad work options, a closed engine', async (t) => {
  const memory = new Engine()
  t.throws(() => memory.work(), { instanceOf: QueueError })
  await t.throwsAsync(() => memory.enqueue('one', {}), { instanceOf: QueueError })
  const engine = workerEngine(sqlite())
  for (const bad of [{ queues: [] }, { concurrency: 0 }, { lease: '10ms' }, { lease: 'long' }, { pollInterval: 1 }]) t.throws(() => engine.work(bad as never), { instanceOf: InputError })
  await engine.close()
  await t.throwsAsync(() => engine.enqueue('one', {}), { instanceOf: EngineClosedError })
  t.throws(() => engine.work(), { instanceOf: EngineClosedError })
})

test('postgres: a process hears other processes\' enqueues and ends as notices; SQLite has none', async (t) => {
  t.is(listen(sqlite(), () => undefined), undefined)
  const url = pg.url()
  const engine = workerEngine(url)
  t.teardown(() => engine.close())
  await engine.flush() // the schema exists before the listener's first notice can
  const notices: Notice[] = []
  const heard = (match: (n: Notice) => boolean): Promise<void> =>
    new Promise((resolve) => {
      const check = setInterval(() => {
        if (notices.some(match)) {
          clearInterval(check)
          resolve()
        }
      }, 5)
    })
  const listener = listen(url, (n) => notices.push(n))!
  t.teardown(() => listener.stop())
  const { id } = await engine.enqueue('one', { y: 1 }, { queue: 'heard' })
  await heard((n) => 'q' in n && n.q.includes('heard'))
  const worker = engine.work({ queues: ['heard'] })
  t.deepEqual(await engine.result(id), { y: 1 })
  await heard((n) => 'e' in n && (n.e === '*' || n.e.includes(id)))
  await worker.stop()
  listener.stop()
  const before = notices.length
  await engine.enqueue('one', { y: 2 }, { queue: 'heard' })
  await new Promise((resolve) => setTimeout(resolve, 300))
  t.is(notices.length, before, 'nothing is delivered after stop')
})

test('a worker that stops without draining lets go of a parent and its child, writing no end for either: the next worker resumes the child, which succeeds', async (t) => {
  const store = sqlite()
  let release: () => void = () => {}
  let calls = 0
  const flows = (engine: Engine, hang: boolean): Engine => {
    engine.action('step', (input) => {
      calls++
      return hang ? new Promise((resolve) => (release = () => resolve(input))) : input
    })
    // the child's interrupted attempt is retried under its policy, as any resumed run's
    engine.workflow({ name: 'child', tasks: { s: { action: 'step', input: '{{ input }}', retry: 1 } }, output: '{{ tasks.s.result }}' })
    engine.workflow({ name: 'parent', tasks: { c: { workflow: 'child', input: '{{ input }}' } }, output: '{{ tasks.c.result }}' })
    return engine
  }
  const first = flows(new Engine({ store, handleSignals: false }), true)
  const worker = first.work()
  const { id } = await first.enqueue('parent', { x: 7 })
  while (calls === 0) await new Promise((resolve) => setTimeout(resolve, 5))
  await worker.stop({ drain: false })
  release() // the first attempt's action ends after its run was let go: nothing of it counts
  await first.close()
  const reader = new Engine({ store, handleSignals: false })
  const child = (await reader.runs({ limit: 10 })).find((r) => r.parentId === id)
  t.truthy(child, 'the child is in the store')
  t.not(child!.status, 'cancelled', 'the child was let go with its parent, not cancelled')
  await reader.close()
  const second = flows(new Engine({ store, handleSignals: false }), false)
  t.teardown(() => second.close())
  const next = second.work()
  t.deepEqual(await second.result(id, { timeout: 30_000 }), { x: 7 })
  t.is((await second.getRun(child!.id))?.status, 'succeeded', 'the same child resumed and succeeded')
  await next.stop()
})
