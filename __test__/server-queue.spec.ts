// `serve --queue`: the server in front of workers, on a real PostgreSQL
// with a real worker child process (fixtures/queue/worker-child.mjs). The
// server's engine has the `step` action only as a trap: it throws, so an
// output can only come from the worker (its `tag`).
import test from 'ava'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

import { Engine } from '../lib/index'
import { createServer } from '../lib/server/index'
import { usePostgres } from './support/postgres'
import { api, readSse, TOKEN, WsClient } from './support/server'
import { startWorker, type WorkerProcess } from './support/workers'

const pg = usePostgres(test)

async function served(t: { teardown(fn: () => unknown): void }, workerOptions: Record<string, unknown> = {}): Promise<{ url: string; ws: string; worker: WorkerProcess }> {
  const store = pg.url()
  const engine = new Engine({ store, flushIntervalMs: 10, handleSignals: false })
  engine.action('step', () => {
    throw new Error('the server must not run workflows in queue mode')
  })
  const one = engine.workflow({ name: 'one', tasks: { s: { action: 'step', input: '{{ input }}', retry: { count: 2 } } }, output: '{{ tasks.s.result }}' })
  const gate = engine.workflow({ name: 'gate', tasks: { w: { wait: { signal: 'go', timeout: 120_000 }, next: { do: 'fin' } }, fin: { action: 'step', input: { got: '{{ tasks.w.result }}' } } }, output: '{{ tasks.fin.result }}' })
  // the worker defines it from the same file
  const gateJoin = engine.workflow(JSON.parse(readFileSync(join(__dirname, 'fixtures', 'queue', 'gate-join.json'), 'utf8')))
  const server = createServer({ engine, workflows: [one, gate, gateJoin], tokens: [TOKEN], port: 0, queue: 'default' })
  const { url } = await server.listen()
  const worker = startWorker(store, { tag: 'worker-1', lease: '10m', ...workerOptions })
  t.teardown(async () => {
    worker.process.kill('SIGKILL')
    await server.close()
    await engine.close()
  })
  await worker.waitFor((l) => 'ready' in l)
  return { url, ws: `${url.replace('http', 'ws')}/v1/ws`, worker }
}

test.serial('POST /v1/runs with wait: true is answered with the output of the run a worker executed', async (t) => {
  const { url, worker } = await served(t)
  const res = await api(`${url}/v1/runs`, { body: { workflow: 'one', input: { n: 7 }, wait: true } })
  t.is(res.status, 200)
  t.is(res.body.status, 'succeeded')
  t.deepEqual(res.body.output, { input: { n: 7 }, tag: 'worker-1' })
  t.truthy(worker.lines.find((l) => l.started === res.body.id))
})

test.serial("SSE of a worker's run: a client that drops after the first event resumes with Last-Event-ID: every event once, in order, live to the end", async (t) => {
  const { url, worker } = await served(t, { hold: 600 })
  const started = await api(`${url}/v1/runs`, { body: { workflow: 'one', input: { n: 1 } } })
  t.is(started.status, 201)
  t.is(started.body.status, 'queued')
  const id = started.body.id as string
  const first = await readSse(`${url}/v1/runs/${id}/events`, { token: TOKEN, stop: (frames) => frames.some((f) => f.id !== undefined) })
  const seen = first.frames.filter((f) => f.id !== undefined)
  t.is(seen.length, 1)
  t.is(seen[0]!.id, 1)
  t.is((seen[0]!.data as { type: string }).type, 'run.started')
  // reconnect while the worker still holds the run (its step holds 600 ms): the rest arrives as the worker commits it
  await worker.waitFor((l) => l.started === id)
  const rest = await readSse(`${url}/v1/runs/${id}/events`, { token: TOKEN, lastEventId: 1 })
  const events = rest.frames.filter((f) => f.id !== undefined)
  t.deepEqual(events.map((f) => f.id), events.map((_, i) => i + 2))
  t.deepEqual(events.map((f) => (f.data as { type: string }).type), ['task.started', 'task.succeeded', 'run.succeeded'])
  const end = rest.frames.at(-1)!
  t.is(end.event, 'end')
  t.like(end.data as object, { runId: id, status: 'succeeded', reason: 'ended', output: { input: { n: 1 }, tag: 'worker-1' } })
  // the stream was live: the run was still held by the worker when it opened
  t.true(worker.lines.findIndex((l) => l.started === id) < worker.lines.findIndex((l) => l.event === 'run.succeeded' && l.runId === id))
})

test.serial('a signal over HTTP reaches the waiting run the worker holds (no resume); the same idempotencyKey with wait: true answers its output', async (t) => {
  const { url, worker } = await served(t)
  const started = await api(`${url}/v1/runs`, { body: { workflow: 'gate', idempotencyKey: 'gate-1', wait: 0 } })
  t.is(started.status, 201)
  const id = started.body.id as string
  await worker.waitFor((l) => l.event === 'task.waiting' && l.runId === id)
  const sent = await api(`${url}/v1/runs/${id}/signals/go`, { body: { payload: { by: 'ana' } } })
  t.is(sent.status, 202)
  const again = await api(`${url}/v1/runs`, { body: { workflow: 'gate', idempotencyKey: 'gate-1', wait: true } })
  t.is(again.status, 200)
  t.is(again.body.id, id)
  t.deepEqual(again.body.output, { input: { got: { by: 'ana' } }, tag: 'worker-1' })
  t.false(worker.lines.some((l) => l.event === 'run.resumed'))
  // a key reused for another input is a conflict, whatever the run's state
  const conflict = await api(`${url}/v1/runs`, { body: { workflow: 'gate', input: { other: true }, idempotencyKey: 'gate-1' } })
  t.is(conflict.status, 409)
  t.is(conflict.body.error.code, 'ARCFLOW_IDEMPOTENCY_CONFLICT')
})

test.serial("a cancel over WebSocket reaches the worker's run: its step is aborted and the run ends cancelled", async (t) => {
  const { ws, worker } = await served(t, { hold: 120_000 })
  const c = new WsClient(ws, TOKEN)
  await c.opened
  t.teardown(() => c.ws.close())
  c.send({ type: 'start', ref: 's', workflow: 'one', input: { n: 2 } })
  const started = await c.next((f) => f.type === 'started')
  const id = started.runId as string
  t.is(started.status, 'queued')
  await worker.waitFor((l) => l.started === id)
  c.send({ type: 'cancel', ref: 'c', runId: id })
  const result = await c.next((f) => f.type === 'result' && f.ref === 'c')
  t.like(result, { runId: id, status: 'cancelled' })
  const aborted = await worker.waitFor((l) => l.aborted === id)
  t.false(aborted.lease)
  await worker.waitFor((l) => l.event === 'run.cancelled' && l.runId === id)
})

test.serial("the stream of a worker's run with a wait, a signal and a join, rebuilt from the journal (followed live, and read after the end), has the worker's live events in order; Last-Event-ID in the middle gets exactly the rest", async (t) => {
  const { url, worker } = await served(t, { events: true })
  const started = await api(`${url}/v1/runs`, { body: { workflow: 'gate-join', idempotencyKey: 'gj-1' } })
  const id = started.body.id as string
  // followed while the worker runs it (read again at each commit), the signal sent once the wait is seen there
  let sent: Promise<{ status: number }> | undefined
  const followed = await readSse(`${url}/v1/runs/${id}/events`, {
    token: TOKEN,
    stop: (frames) => {
      if (!sent && frames.some((f) => (f.data as { type?: string }).type === 'task.waiting')) sent = api(`${url}/v1/runs/${id}/signals/go`, { body: { payload: { by: 'ana' } } })
      return false
    },
  })
  t.is((await sent)!.status, 202)
  t.like(followed.frames.at(-1)!.data as object, { status: 'succeeded' })
  await worker.waitFor((l) => l.event === 'run.succeeded' && l.runId === id)
  // and read afresh once the run has ended
  const whole = await readSse(`${url}/v1/runs/${id}/events`, { token: TOKEN })
  // the worker's own events, as its engine emitted them
  const liveEvents = worker.lines.filter((l) => (l.live as { runId?: string } | undefined)?.runId === id).map((l) => l.live)
  const live = liveEvents.map(untimed)
  const rebuilt = whole.frames.filter((f) => f.id !== undefined)
  t.deepEqual(rebuilt.map((f) => f.id), rebuilt.map((_, i) => i + 1))
  t.deepEqual(rebuilt.map((f) => untimed(f.data)), live)
  t.deepEqual(followed.frames.filter((f) => f.id !== undefined), rebuilt, 'the stream followed live and the one read after the end are one')
  // the events the journal keeps as they were have their live times too
  const kept = (es: unknown[]) => es.filter((e) => ['task.waiting', 'signal.received'].includes((e as { type: string }).type))
  t.deepEqual(kept(rebuilt.map((f) => f.data)), kept(liveEvents))
  for (const type of ['task.waiting', 'signal.received', 'task.succeeded']) t.true(live.some((e) => e.type === type), type)
  const middle = Math.floor(rebuilt.length / 2)
  const rest = await readSse(`${url}/v1/runs/${id}/events`, { token: TOKEN, lastEventId: middle })
  t.deepEqual(rest.frames.filter((f) => f.id !== undefined), rebuilt.slice(middle))
})

// the other events' times in a rebuilt stream are the executions' stamps (see replay.ts)
function untimed(event: unknown): { type: string } {
  const { time: _time, ...rest } = event as { time: number; type: string }
  return rest
}
