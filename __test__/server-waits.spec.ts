// The server's cheaper per-run paths keep their behaviour: waits without a
// timer each (the sweep of waits.ts), numeric waits on their own timer, the
// per-connection memory of an accepted token, the frames written as text.
import test from 'ava'
import http from 'node:http'

import { resultFrame, startedFrame } from '../lib/server/frames'
import { Waits } from '../lib/server/waits'
import { serve, TOKEN, WsClient } from './support/server'

test('Waits: a due wait is given up by the sweep, a deleted one never, giveUpAll answers the rest', async (t) => {
  const waits = new Waits()
  const given: string[] = []
  const soon = (): void => void given.push('soon')
  const deleted = (): void => void given.push('deleted')
  const later = (): void => void given.push('later')
  waits.add(soon, 0)
  waits.add(deleted, 0)
  waits.add(later, 60_000)
  waits.delete(deleted)
  // the sweep runs once a second: wait for it (no bound on time, only on what it does)
  while (!given.includes('soon')) await new Promise((resolve) => setTimeout(resolve, 50))
  t.deepEqual(given, ['soon'])
  waits.delete(soon) // what the request's own stop does once it answered
  waits.giveUpAll()
  t.deepEqual(given, ['soon', 'later'])
})

test('wait: a run still going answers 201 running when a wait of some milliseconds runs out; wait: true answers at the end', async (t) => {
  const s = await serve()
  try {
    const running = await fetch(`${s.url}/v1/runs`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ workflow: 'gated', input: { label: 'x' }, wait: 50 }) })
    t.is(running.status, 201)
    t.is(((await running.json()) as { status: string }).status, 'running')
    const waiting = fetch(`${s.url}/v1/runs`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ workflow: 'gated', input: { label: 'y' }, wait: true }) })
    // both runs wait at their first gate, then at their second
    await s.gate.reached(2)
    s.gate.release()
    await s.gate.reached(4)
    s.gate.release()
    const done = await waiting
    t.is(done.status, 200)
    const body = (await done.json()) as { id: string; status: string; output: unknown }
    t.is(typeof body.id, 'string')
    t.like(body, { status: 'succeeded', output: { label: 'y' } })
  } finally {
    await s.close()
  }
})

/** POSTs over one keep-alive connection: each answer's status, and whether the connection was reused. */
function post(agent: http.Agent, url: string, authorization: string | undefined): Promise<{ status: number; reused: boolean }> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ workflow: 'trivial', input: 1 })
    const headers: Record<string, string | number> = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }
    if (authorization !== undefined) headers.authorization = authorization
    const req = http.request(`${url}/v1/runs`, { method: 'POST', agent, headers }, (res) => {
      res.resume()
      res.on('end', () => resolve({ status: res.statusCode!, reused: req.reusedSocket }))
    })
    req.on('error', reject)
    req.end(body)
  })
}

test('tokens: a connection that proved its token still gets a 401 for a wrong or missing one on its next requests', async (t) => {
  const s = await serve()
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
  try {
    const answers = []
    for (const authorization of [`Bearer ${TOKEN}`, 'Bearer wrong', `Bearer ${TOKEN}`, undefined, `bearer  ${TOKEN} `, 'Bearer second-token', `Bearer ${TOKEN}x`]) {
      answers.push(await post(agent, s.url, authorization))
    }
    t.deepEqual(answers.map((a) => a.status), [201, 401, 201, 401, 201, 201, 401])
    // one connection throughout (else the memory of the accepted header was not what answered)
    t.true(answers.slice(1).every((a) => a.reused))
  } finally {
    agent.destroy()
    await s.close()
  }
})

test('frames: started and result written as text are the JSON of their fields', (t) => {
  const runId = '0190-"quoted"\\id'
  for (const ref of [1, 'a"b', null, { deep: [1, 'x'] }, undefined]) {
    t.deepEqual(JSON.parse(startedFrame(ref, { runId, status: 'running', created: false })), { type: 'started', ref: ref ?? null, runId, status: 'running', created: false })
    t.deepEqual(JSON.parse(resultFrame(ref, { runId, status: 'succeeded', output: { n: [1, '2'] } })), { type: 'result', ref: ref ?? null, runId, status: 'succeeded', output: { n: [1, '2'] } })
  }
  // no output (a cancelled run), an output of null, a failed run's error
  t.deepEqual(JSON.parse(resultFrame(7, { runId, status: 'cancelled' })), { type: 'result', ref: 7, runId, status: 'cancelled' })
  t.deepEqual(JSON.parse(resultFrame(7, { runId, status: 'succeeded', output: null })), { type: 'result', ref: 7, runId, status: 'succeeded', output: null })
  t.deepEqual(JSON.parse(resultFrame(7, { runId, status: 'failed', error: { name: 'Error', message: 'it "broke"' } })), { type: 'result', ref: 7, runId, status: 'failed', error: { name: 'Error', message: 'it "broke"' } })
})

test('WebSocket: a start whose run ends at once, and one that fails, answer started then result; a bad start answers error', async (t) => {
  const s = await serve()
  const c = new WsClient(s.ws, TOKEN)
  await c.opened
  try {
    c.send({ type: 'start', ref: 'ok', workflow: 'trivial', input: { a: 1 } })
    const started = await c.next((f) => f.ref === 'ok')
    t.like(started, { type: 'started', status: 'running', created: true })
    t.like(await c.next((f) => f.ref === 'ok'), { type: 'result', runId: started.runId, status: 'succeeded', output: { a: 1 } })
    c.send({ type: 'start', ref: 'bad', workflow: 'failing' })
    t.is((await c.next((f) => f.ref === 'bad')).type, 'started')
    const failed = await c.next((f) => f.ref === 'bad')
    t.like(failed, { type: 'result', status: 'failed', error: { message: 'it broke' } })
    c.send({ type: 'start', ref: 'none', workflow: 'nope' })
    t.like(await c.next((f) => f.ref === 'none'), { type: 'error', error: { code: 'ARCFLOW_NOT_FOUND' } })
    c.send({ type: 'start', ref: 'field', workflow: 'trivial', extra: 1 })
    t.like(await c.next((f) => f.ref === 'field'), { type: 'error', error: { code: 'ARCFLOW_BAD_REQUEST', path: 'frame.extra' } })
  } finally {
    c.ws.close()
    await s.close()
  }
})
