// Idempotent starts (issue 14): `engine.start(wf, input, { idempotencyKey })`.
import test from 'ava'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { failedKeyStartsNew, keySetup, oneRunPerKey, oneRunPerKeyAcrossProcesses } from './scenarios/idempotency'

const dbPath = (): string => join(mkdtempSync(join(tmpdir(), 'arcflow-keys-')), 'a.db')

const setup = keySetup

for (const store of ['memory', 'sqlite'] as const) {
  const url = (): string | undefined => (store === 'sqlite' ? `sqlite:${dbPath()}` : undefined)
  test(`${store}: 1,000 concurrent starts with one key make exactly one run`, (t) => oneRunPerKey(t, url()))
  test(`${store}: a failed run does not block a new one with its key`, (t) => failedKeyStartsNew(t, url()))
}

test('sqlite (locking=shared): 4 processes × 250 concurrent starts with one key make exactly one run, and every start answers it', (t) =>
  oneRunPerKeyAcrossProcesses(t, `sqlite:${dbPath()}?locking=shared`))

test('after a restart, the key answers the run in history (the store)', async (t) => {
  const path = dbPath()
  const one = setup({ store: `sqlite:${path}` })
  const first = one.engine.start(one.wf, {}, { idempotencyKey: 'nightly-2026-01-01' })
  await first.result()
  await one.engine.close()
  const two = setup({ store: `sqlite:${path}` })
  const again = two.engine.start(two.wf, {}, { idempotencyKey: 'nightly-2026-01-01' })
  t.is(again.id, first.id)
  t.is(again.status, 'succeeded')
  t.is(await again.result(), 'receipt-1')
  t.is(two.calls(), 0)
  await two.engine.close()
})

test('retention: a key older than idempotencyRetentionMs starts a new run; a key with a runId is refused', async (t) => {
  const { engine, wf, calls } = setup({ idempotencyRetentionMs: 20 })
  await engine.run(wf, {}, { idempotencyKey: 'k' })
  await new Promise((r) => setTimeout(r, 40))
  await engine.run(wf, {}, { idempotencyKey: 'k' })
  t.is(calls(), 2)
  t.throws(() => engine.start(wf, {}, { idempotencyKey: 'k', runId: 'r' }), { message: /not both/ })
})
