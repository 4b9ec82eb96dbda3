// Idempotent starts (issue 14): `engine.start(wf, input, { idempotencyKey })`.
import test from 'ava'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { Engine } from '../lib/index'

const dbPath = (): string => join(mkdtempSync(join(tmpdir(), 'arcflow-keys-')), 'a.db')

function setup(options: ConstructorParameters<typeof Engine>[0] = {}) {
  const engine = new Engine(options)
  let calls = 0
  engine.action('charge', async ({ fail }: { fail?: boolean }) => {
    calls++
    if (fail) throw new Error('card declined')
    return `receipt-${calls}`
  })
  const wf = engine.workflow({ name: 'pay', tasks: { c: { action: 'charge', input: { fail: '{{ input.fail }}' } } }, output: '{{ tasks.c.result }}' })
  return { engine, wf, calls: () => calls }
}

for (const store of ['memory', 'sqlite'] as const) {
  test(`${store}: 1,000 concurrent starts with one key make exactly one run`, async (t) => {
    const { engine, wf, calls } = setup(store === 'sqlite' ? { store: `sqlite:${dbPath()}` } : {})
    const outputs = await Promise.all(Array.from({ length: 1000 }, () => engine.run(wf, { fail: false }, { idempotencyKey: 'order-42' })))
    t.is(calls(), 1)
    t.true(outputs.every((o) => o === 'receipt-1'))
    // after it ended, the same key still answers it
    const again = engine.start(wf, { fail: false }, { idempotencyKey: 'order-42' })
    t.is(await again.result(), 'receipt-1')
    t.is(calls(), 1)
    if (store === 'sqlite') t.is((await engine.runs({ workflow: 'pay' })).length, 1)
    await engine.close()
  })

  test(`${store}: a failed run does not block a new one with its key`, async (t) => {
    const { engine, wf, calls } = setup(store === 'sqlite' ? { store: `sqlite:${dbPath()}` } : {})
    const first = engine.start(wf, { fail: true }, { idempotencyKey: 'k' })
    await t.throwsAsync(first.result())
    const second = engine.start(wf, { fail: false }, { idempotencyKey: 'k' })
    t.not(second.id, first.id)
    t.is(await second.result(), 'receipt-2')
    t.is(engine.start(wf, {}, { idempotencyKey: 'k' }).id, second.id)
    t.is(calls(), 2)
    await engine.close()
  })
}

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
