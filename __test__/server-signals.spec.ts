// Signals over the network: `POST /v1/runs/:id/signals/:name` and the
// WebSocket `signal` frame, against a run waiting in a `wait` task; the
// refusals (unknown run 404, ended run 409, bad body 400).
import test from 'ava'

import { api, serve, TOKEN, WsClient } from './support/server'

test('HTTP: a signal ends the wait with its payload; unknown run 404, ended run 409, bad body 400', async (t) => {
  const s = await serve()
  try {
    const started = await api(`${s.url}/v1/runs`, { body: { workflow: 'approval' } })
    t.is(started.status, 201)
    const id = started.body.id as string
    const bad = await api(`${s.url}/v1/runs/${id}/signals/approval`, { body: { payload: 1, extra: true } })
    t.is(bad.status, 400)
    t.is(bad.body.error.path, 'body.extra')
    const sent = await api(`${s.url}/v1/runs/${id}/signals/approval`, { body: { payload: { ok: true, by: 'ana' } } })
    t.is(sent.status, 202)
    t.deepEqual(sent.body, { id, signal: 'approval' })
    const info = await waitStatus(s.url, id, 'succeeded')
    t.deepEqual(info.output, { ok: true, by: 'ana' })
    const late = await api(`${s.url}/v1/runs/${id}/signals/approval`, { body: { payload: 2 } })
    t.is(late.status, 409)
    t.is(late.body.error.code, 'ARCFLOW_RUN_ENDED')
    const unknown = await api(`${s.url}/v1/runs/nope/signals/approval`, { body: {} })
    t.is(unknown.status, 404)
    t.is(unknown.body.error.code, 'ARCFLOW_NOT_FOUND')
    t.is((await api(`${s.url}/v1/runs/${id}/signals/approval`, { method: 'GET' })).status, 405)
  } finally {
    await s.close()
  }
})

test('a run watched over WebSocket and waited for over HTTP (wait: true, by its idempotency key) ends when a signal arrives over HTTP', async (t) => {
  const s = await serve()
  try {
    const c = new WsClient(s.ws, TOKEN)
    await c.opened
    // learn the id from the socket's started frame, then answer the waiting HTTP request by a signal
    c.send({ type: 'start', ref: 'a', workflow: 'approval', idempotencyKey: 'approve-1', events: true })
    const started = await c.next((f) => f.type === 'started' && f.ref === 'a')
    const runId = started.runId as string
    await c.next((f) => f.type === 'event' && f.ref === 'a' && (f.event as { type: string }).type === 'task.waiting')
    // the same key answers the live run: this request waits for its end
    const waited = api(`${s.url}/v1/runs`, { body: { workflow: 'approval', idempotencyKey: 'approve-1', wait: true } })
    const sent = await api(`${s.url}/v1/runs/${runId}/signals/approval`, { body: { payload: 'yes' } })
    t.is(sent.status, 202)
    const answer = await waited
    t.is(answer.status, 200)
    t.deepEqual(answer.body, { id: runId, status: 'succeeded', output: 'yes' })
    const result = await c.next((f) => f.type === 'result' && f.ref === 'a')
    t.is(result.status, 'succeeded')
    t.is(result.output, 'yes')
    const types = c.frames.filter((f) => f.ref === 'a' && f.type === 'event').map((f) => (f.event as { type: string }).type)
    t.true(types.includes('signal.received'), types.join(','))
    c.ws.close()
  } finally {
    await s.close()
  }
})

test('WebSocket: signal answers signalled and ends the wait; unknown run, ended run, missing name answer error frames', async (t) => {
  const s = await serve()
  const c = new WsClient(s.ws, TOKEN)
  try {
    await c.opened
    c.send({ type: 'start', ref: 'a', workflow: 'approval' })
    const runId = (await c.next((f) => f.type === 'started' && f.ref === 'a')).runId as string
    c.send({ type: 'signal', ref: 'n', runId })
    t.is(((await c.next((f) => f.type === 'error' && f.ref === 'n')).error as { path: string }).path, 'frame.name')
    c.send({ type: 'signal', ref: 's', runId, name: 'approval', payload: [1, 2] })
    const sent = await c.next((f) => f.ref === 's')
    t.deepEqual(sent, { type: 'signalled', ref: 's', runId, name: 'approval' })
    const result = await c.next((f) => f.type === 'result' && f.ref === 'a')
    t.deepEqual(result.output, [1, 2])
    c.send({ type: 'signal', ref: 'late', runId, name: 'approval' })
    const late = await c.next((f) => f.ref === 'late')
    t.is(late.type, 'error')
    t.is((late.error as { code: string }).code, 'ARCFLOW_RUN_ENDED')
    c.send({ type: 'signal', ref: 'u', runId: 'nope', name: 'approval' })
    t.is(((await c.next((f) => f.ref === 'u')).error as { code: string }).code, 'ARCFLOW_NOT_FOUND')
  } finally {
    c.ws.close()
    await s.close()
  }
})

async function waitStatus(url: string, id: string, status: string): Promise<Record<string, unknown>> {
  // a wait for the end over the server's own long poll: no timer in the test
  const sub = new WsClient(url.replace('http', 'ws') + '/v1/ws', TOKEN)
  await sub.opened
  sub.send({ type: 'subscribe', ref: 'w', runId: id })
  const end = await sub.next((f) => f.type === 'result' && f.ref === 'w')
  sub.ws.close()
  if (end.status !== status) throw new Error(`run ${id} ended ${String(end.status)}, not ${status}`)
  return end
}
