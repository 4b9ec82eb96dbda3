// arcflow/server over real clients on 127.0.0.1: fetch for the routes and
// their problems, an SSE reader, a `ws` client.
import test from 'ava'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { Engine, ServerError } from '../lib/index'
import { createServer } from '../lib/server/index'
import { api, readSse, serve, TOKEN, WsClient, type Sse } from './support/server'

const tmpStore = (): string => `sqlite:${join(mkdtempSync(join(tmpdir(), 'arcflow-server-')), 'a.db')}`
const ids = (frames: Sse[]): number[] => frames.filter((f) => f.event === 'message').map((f) => f.id!)
const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i + 1)

test('POST /v1/runs with wait answers the output; without, 201 and the id; GET /v1/runs/:id and /v1/workflows', async (t) => {
  const s = await serve()
  try {
    const done = await api(`${s.url}/v1/runs`, { body: { workflow: 'trivial', input: { n: 7 }, wait: true } })
    t.is(done.status, 200)
    t.deepEqual(done.body.output, { n: 7 })
    t.is(done.body.status, 'succeeded')
    const started = await api(`${s.url}/v1/runs`, { body: { workflow: 'trivial', input: 1 } })
    t.is(started.status, 201)
    t.is(typeof started.body.id, 'string')
    // a failed run's error is data, and no stack leaves the server
    const failed = await api(`${s.url}/v1/runs`, { body: { workflow: 'failing', wait: 5_000 } })
    t.is(failed.status, 200)
    t.is(failed.body.status, 'failed')
    t.is(failed.body.error.message, 'it broke')
    t.false(JSON.stringify(failed.body).includes('stack'))
    const info = await api(`${s.url}/v1/runs/${failed.body.id}`)
    t.is(info.status, 200)
    t.is(info.body.status, 'failed')
    t.false(JSON.stringify(info.body).includes('at '), 'no stack frames in the run view')
    const wfs = await api(`${s.url}/v1/workflows`)
    t.deepEqual(wfs.body.workflows.map((w: { name: string }) => w.name).sort(), ['approval', 'failing', 'gated', 'noisy', 'steps', 'trivial'])
    t.deepEqual(wfs.body.workflows.find((w: { name: string }) => w.name === 'steps').inputSchema.required, ['ms'])
    t.is((await api(`${s.url}/healthz`, { token: null })).status, 200)
    const metrics = await api(`${s.url}/metrics`)
    t.regex(metrics.body, /arcflow_runs_started_total\{workflow="trivial"\} 2/)
    t.regex(metrics.body, /arcflow_runs_ended_total\{status="failed"\} 1/)
    t.regex(metrics.body, /arcflow_http_connections \d+/)
  } finally {
    await s.close()
  }
})

test('problems: 401 without or with a wrong token, 404, 405, 400 bad JSON and fields, 413, 415, 422 with the path, 409 idempotency conflict', async (t) => {
  const s = await serve({ bodyLimitBytes: 1024 })
  try {
    const no = await api(`${s.url}/v1/runs`, { token: null })
    t.is(no.status, 401)
    t.is(no.body.error.code, 'ARCFLOW_UNAUTHORIZED')
    t.is((await api(`${s.url}/v1/runs`, { token: 'wrong' })).status, 401)
    t.is((await api(`${s.url}/v1/runs`, { token: 'second-token' })).status, 200, 'several tokens')
    t.is((await api(`${s.url}/v1/nothing`)).body.error.code, 'ARCFLOW_NOT_FOUND')
    t.is((await api(`${s.url}/v1/runs/nope`)).status, 404)
    t.is((await api(`${s.url}/v1/runs/nope/events`)).status, 404)
    t.is((await api(`${s.url}/v1/runs`, { method: 'DELETE' })).status, 405)
    const badJson = await api(`${s.url}/v1/runs`, { body: '{"workflow":' })
    t.is(badJson.status, 400)
    t.is(badJson.body.error.path, 'body')
    const badWait = await api(`${s.url}/v1/runs`, { body: { workflow: 'trivial', wait: 'soon' } })
    t.is(badWait.status, 400)
    t.is(badWait.body.error.path, 'body.wait')
    t.is((await api(`${s.url}/v1/runs`, { body: { workflow: 'trivial', extra: 1 } })).body.error.path, 'body.extra')
    t.is((await api(`${s.url}/v1/runs`, { body: { workflow: 'nope' } })).status, 404)
    const big = await api(`${s.url}/v1/runs`, { body: { workflow: 'trivial', input: 'x'.repeat(2048) } })
    t.is(big.status, 413)
    t.is(big.body.error.code, 'ARCFLOW_TOO_LARGE')
    t.is((await api(`${s.url}/v1/runs`, { body: 'workflow=trivial', headers: { 'content-type': 'text/plain' } })).status, 415)
    const schema = await api(`${s.url}/v1/runs`, { body: { workflow: 'steps', input: { ms: 'soon' } } })
    t.is(schema.status, 422)
    t.is(schema.body.error.code, 'ARCFLOW_INPUT')
    t.is(schema.body.error.path, 'input.ms')
    const first = await api(`${s.url}/v1/runs`, { body: { workflow: 'trivial', input: { a: 1 }, idempotencyKey: 'order-1', wait: true } })
    t.is(first.status, 200)
    const again = await api(`${s.url}/v1/runs`, { body: { workflow: 'trivial', input: { a: 1 }, idempotencyKey: 'order-1' } })
    t.is(again.status, 200, 'the same request again: the same run, not created')
    t.is(again.body.id, first.body.id)
    const other = await api(`${s.url}/v1/runs`, { body: { workflow: 'trivial', input: { a: 2 }, idempotencyKey: 'order-1' } })
    t.is(other.status, 409)
    t.is(other.body.error.code, 'ARCFLOW_IDEMPOTENCY_CONFLICT')
    for (const r of [no, badJson, big, schema, other]) t.false(JSON.stringify(r.body).includes('    at '), 'no stack trace')
  } finally {
    await s.close()
  }
})

test('options: auth off is refused off loopback, auth on needs a token', async (t) => {
  const engine = new Engine({ builtins: true })
  t.throws(() => createServer({ engine, workflows: [], auth: false, host: '0.0.0.0' }), { instanceOf: ServerError })
  t.throws(() => createServer({ engine, workflows: [], host: '127.0.0.1' }), { instanceOf: ServerError, message: /no bearer token/ })
  const s = await serve({ engine, auth: false, tokens: [] })
  try {
    t.is((await api(`${s.url}/v1/runs`, { token: null })).status, 200)
  } finally {
    await s.close()
  }
})

test('GET /v1/runs pages with a cursor, filters by status and workflow (store)', async (t) => {
  const s = await serve({ store: tmpStore() })
  try {
    for (let i = 0; i < 7; i++) await api(`${s.url}/v1/runs`, { body: { workflow: 'trivial', input: i, wait: true } })
    await api(`${s.url}/v1/runs`, { body: { workflow: 'failing', wait: true } })
    const seen: string[] = []
    let cursor: string | null = null
    let pages = 0
    do {
      const page: { body: { runs: Array<{ id: string }>; nextCursor: string | null } } = await api(`${s.url}/v1/runs?workflow=trivial&limit=3${cursor ? `&cursor=${cursor}` : ''}`)
      seen.push(...page.body.runs.map((r) => r.id))
      cursor = page.body.nextCursor
      pages++
    } while (cursor && pages < 10)
    t.is(pages, 3)
    t.is(new Set(seen).size, 7)
    const failed = await api(`${s.url}/v1/runs?status=failed`)
    t.is(failed.body.runs.length, 1)
    t.is((await api(`${s.url}/v1/runs?status=bogus`)).status, 400)
    t.is((await api(`${s.url}/v1/runs?cursor=garbage`)).status, 400)
  } finally {
    await s.close()
  }
})

test('SSE: a client that drops mid-run reconnects with Last-Event-ID and gets exactly the events it missed, then the live ones', async (t) => {
  const s = await serve()
  try {
    const { body } = await api(`${s.url}/v1/runs`, { body: { workflow: 'gated', input: { label: 'x' } } })
    const events = `${s.url}/v1/runs/${body.id}/events`
    await s.gate.reached(1)
    const first = await readSse(events, { token: TOKEN, stop: (f) => f.some((x) => (x.data as { type: string }).type === 'task.started') })
    const last = first.frames[first.frames.length - 1]!.id!
    // the run goes on while nobody watches
    s.gate.release()
    await s.gate.reached(2)
    s.gate.release()
    const rest = await readSse(events, { token: TOKEN, lastEventId: last })
    const all = [...ids(first.frames), ...ids(rest.frames)]
    const history = await readSse(events, { token: TOKEN })
    const total = ids(history.frames).length
    t.deepEqual(all, range(total), 'every event once, in order')
    t.true(total >= 8)
    t.is(rest.frames[rest.frames.length - 1]!.event, 'end')
    t.is((rest.frames[rest.frames.length - 1]!.data as { status: string }).status, 'succeeded')
  } finally {
    await s.close()
  }
})

test('SSE: 1,000 concurrent subscribers on one run each get every event once', async (t) => {
  const s = await serve()
  try {
    const { body } = await api(`${s.url}/v1/runs`, { body: { workflow: 'gated', input: { label: 'many' } } })
    await s.gate.reached(1)
    const readers = Array.from({ length: 1_000 }, () => readSse(`${s.url}/v1/runs/${body.id}/events`, { token: TOKEN }))
    // every stream is open before the run goes on
    for (let i = 0; i < 200 && s.server.handler.streams < 1_000; i++) await new Promise((r) => setTimeout(r, 25))
    t.is(s.server.handler.streams, 1_000)
    s.gate.release()
    await s.gate.reached(2)
    s.gate.release()
    const results = await Promise.all(readers)
    const expected = range(ids(results[0]!.frames).length)
    t.true(expected.length >= 8)
    for (const r of results) t.deepEqual(ids(r.frames), expected)
    t.true(results.every((r) => r.frames[r.frames.length - 1]!.event === 'end'))
  } finally {
    await s.close()
  }
})

test('WebSocket: start with events → started, event, result; subscribe and unsubscribe; bad frames answer error; no token is a 401', async (t) => {
  const s = await serve()
  const c = new WsClient(s.ws, TOKEN)
  try {
    await c.opened
    c.send({ type: 'start', ref: 'a', workflow: 'trivial', input: { hi: 1 }, events: true })
    const started = await c.next((f) => f.type === 'started' && f.ref === 'a')
    const runId = started.runId as string
    const result = await c.next((f) => f.type === 'result' && f.ref === 'a')
    t.is(result.runId, runId)
    t.deepEqual(result.output, { hi: 1 })
    const events = c.frames.filter((f) => f.type === 'event' && f.ref === 'a')
    t.deepEqual(events.map((f) => f.seq), range(events.length))
    t.true(events.every((f) => f.runId === runId))
    // subscribe to a finished run: its events from `after`, then its result
    c.send({ type: 'subscribe', ref: 'b', runId, after: 2 })
    const resultB = await c.next((f) => f.type === 'result' && f.ref === 'b')
    t.is(resultB.status, 'succeeded')
    t.deepEqual(c.frames.filter((f) => f.ref === 'b').map((f) => f.seq), range(events.length).slice(2))
    // unsubscribe: no more events of that run on this socket
    c.send({ type: 'start', ref: 'g', workflow: 'gated', input: { label: 'u' } })
    const g = await c.next((f) => f.type === 'started' && f.ref === 'g')
    c.send({ type: 'subscribe', ref: 'gs', runId: g.runId })
    await c.next((f) => f.type === 'event' && f.ref === 'gs')
    c.send({ type: 'unsubscribe', ref: 'gu', runId: g.runId })
    c.send({ type: 'signal', ref: 's', runId: g.runId, name: 'go' })
    // a run without a wait keeps the signal (no wait takes it): answered, not refused
    const sig = await c.next((f) => f.ref === 's')
    t.is(sig.type, 'signalled')
    await s.gate.reached(1)
    s.gate.release()
    await s.gate.reached(2)
    s.gate.release()
    const gr = await c.next((f) => f.type === 'result' && f.ref === 'g')
    t.is(gr.status, 'succeeded')
    const after = c.frames.filter((f) => f.ref === 'gs' && f.type === 'event').length
    t.true(after < 8, 'events stopped at the unsubscribe')
    c.ws.send('{nope')
    t.is(((await c.next((f) => f.type === 'error' && f.ref === null)).error as { code: string }).code, 'ARCFLOW_BAD_REQUEST')
    c.send({ type: 'launch', ref: 'x' })
    t.is(((await c.next((f) => f.type === 'error' && f.ref === 'x')).error as { path: string }).path, 'frame.type')
    c.send({ type: 'start', ref: 'y', workflow: 'steps', input: { ms: 'no' } })
    const bad = await c.next((f) => f.type === 'error' && f.ref === 'y')
    t.is((bad.error as { path: string }).path, 'input.ms')
    const anon = new WsClient(s.ws)
    const refused = await t.throwsAsync(anon.opened)
    t.is((refused as { status?: number }).status, 401)
  } finally {
    c.ws.close()
    await s.close()
  }
})

test('a run started over HTTP and cancelled over WebSocket', async (t) => {
  const s = await serve()
  const c = new WsClient(s.ws, TOKEN)
  try {
    await c.opened
    const { body } = await api(`${s.url}/v1/runs`, { body: { workflow: 'gated', input: { label: 'c' } } })
    await s.gate.reached(1)
    const waiting = api(`${s.url}/v1/runs`, { body: { workflow: 'gated', input: { label: 'c' }, idempotencyKey: 'never-mind' } })
    c.send({ type: 'cancel', ref: 'k', runId: body.id })
    const result = await c.next((f) => f.type === 'result' && f.ref === 'k')
    t.is(result.runId, body.id)
    t.is(result.status, 'cancelled')
    t.is((await api(`${s.url}/v1/runs/${body.id}`)).body.status, 'cancelled')
    // cancelling an ended run is a conflict
    c.send({ type: 'cancel', ref: 'k2', runId: body.id })
    t.is(((await c.next((f) => f.type === 'error' && f.ref === 'k2')).error as { code: string }).code, 'ARCFLOW_RUN_ENDED')
    t.is((await api(`${s.url}/v1/runs/${body.id}/cancel`, { body: {} })).status, 409)
    await waiting
  } finally {
    c.ws.close()
    await s.close()
  }
})
