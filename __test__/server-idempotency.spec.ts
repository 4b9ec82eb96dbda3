// Idempotent starts over the network follow the engine's rule
// (`engine.start`'s `idempotencyKey`): a key answers its running or
// succeeded run, a failed or cancelled one does not block a new run, a
// conflicting reuse is a 409, and a restarted server on the same store
// still answers the key from the store.
import test from 'ava'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { api, serve, TOKEN, WsClient } from './support/server'

const tmpStore = (): string => `sqlite:${join(mkdtempSync(join(tmpdir(), 'arcflow-server-key-')), 'a.db')}`

test('a failed run does not block its key: the next start makes a new run, with any input', async (t) => {
  const s = await serve()
  try {
    const first = await api(`${s.url}/v1/runs`, { body: { workflow: 'failing', idempotencyKey: 'job-1', wait: true } })
    t.is(first.status, 200)
    t.is(first.body.status, 'failed')
    const second = await api(`${s.url}/v1/runs`, { body: { workflow: 'failing', idempotencyKey: 'job-1', wait: true } })
    t.is(second.status, 200)
    t.not(second.body.id, first.body.id, 'a new run')
    // the failed runs do not hold the key: another workflow may take it, then holds it
    const third = await api(`${s.url}/v1/runs`, { body: { workflow: 'trivial', input: 3, idempotencyKey: 'job-1' } })
    t.is(third.status, 201)
    const again = await api(`${s.url}/v1/runs`, { body: { workflow: 'trivial', input: 3, idempotencyKey: 'job-1', wait: true } })
    t.is(again.status, 200)
    t.is(again.body.id, third.body.id)
    t.is(again.body.output, 3)
    t.is((await api(`${s.url}/v1/runs`, { body: { workflow: 'trivial', input: 4, idempotencyKey: 'job-1' } })).status, 409)
  } finally {
    await s.close()
  }
})

test('a cancelled run does not block its key; a live run answers it over HTTP and WebSocket (created: false)', async (t) => {
  const s = await serve()
  const c = new WsClient(s.ws, TOKEN)
  try {
    await c.opened
    const first = await api(`${s.url}/v1/runs`, { body: { workflow: 'approval', idempotencyKey: 'k' } })
    t.is(first.status, 201)
    c.send({ type: 'start', ref: 'a', workflow: 'approval', idempotencyKey: 'k' })
    const same = await c.next((f) => f.type === 'started' && f.ref === 'a')
    t.is(same.runId, first.body.id)
    t.false(same.created)
    c.send({ type: 'start', ref: 'b', workflow: 'approval', input: { other: true }, idempotencyKey: 'k' })
    t.is(((await c.next((f) => f.ref === 'b')).error as { code: string }).code, 'ARCFLOW_IDEMPOTENCY_CONFLICT')
    t.is((await api(`${s.url}/v1/runs/${first.body.id}/cancel`, { body: {} })).status, 202)
    t.is((await c.next((f) => f.type === 'result' && f.ref === 'a')).status, 'cancelled')
    const next = await api(`${s.url}/v1/runs`, { body: { workflow: 'approval', idempotencyKey: 'k' } })
    t.is(next.status, 201)
    t.not(next.body.id, first.body.id)
  } finally {
    c.ws.close()
    await s.close()
  }
})

test('a restarted server on the same store answers the key of a succeeded run from the store; a conflicting reuse is a 409', async (t) => {
  const store = tmpStore()
  const a = await serve({ store })
  let id: string
  try {
    const first = await api(`${a.url}/v1/runs`, { body: { workflow: 'trivial', input: { a: 1 }, idempotencyKey: 'order-9', durability: 'sync', wait: true } })
    t.is(first.status, 200)
    id = first.body.id as string
  } finally {
    await a.close()

  }
  const b = await serve({ store })
  try {
    const again = await api(`${b.url}/v1/runs`, { body: { workflow: 'trivial', input: { a: 1 }, idempotencyKey: 'order-9', wait: true } })
    t.is(again.status, 200)
    t.is(again.body.id, id)
    t.deepEqual(again.body.output, { a: 1 })
    const other = await api(`${b.url}/v1/runs`, { body: { workflow: 'trivial', input: { a: 2 }, idempotencyKey: 'order-9' } })
    t.is(other.status, 409)
    t.is(other.body.error.code, 'ARCFLOW_IDEMPOTENCY_CONFLICT')
  } finally {
    await b.close()

  }
})
