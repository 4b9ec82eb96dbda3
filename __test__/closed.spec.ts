// What ended runs and closed engines say: a typed error with a stable code,
// never an InternalError (issue 11). Serial: the native registry counted
// here is shared by every test of this file.
import test from 'ava'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { EngineClosedError, Engine, InternalError, RunEndedError } from '../lib/index'
import { native } from '../lib/binding'
import { fromNative } from '../lib/errors'
import { unit } from '../lib/engine/protocol'

const dbPath = (): string => join(mkdtempSync(join(tmpdir(), 'arcflow-closed-')), 'arcflow.db')

function oneTask(engine: Engine) {
  return engine.workflow({ name: 'one', tasks: { a: { action: 'work', input: '{{ input }}' } }, output: '{{ tasks.a.result }}' })
}

function nativeError(call: () => unknown): unknown {
  try {
    call()
  } catch (error) {
    return fromNative(error)
  }
  return undefined
}

for (const store of ['memory', 'sqlite'] as const) {
  test.serial(`every engine method that runs, meters or reads fails with EngineClosedError after close() (${store})`, async (t) => {
    const engine = new Engine({ store: store === 'memory' ? 'memory' : `sqlite:${dbPath()}` }).action('work', async (n: number) => n)
    const wf = oneTask(engine)
    engine.credit('acme', 10, { key: 'k' })
    const run = engine.start(wf, 1)
    t.is(await run.result(), 1)
    await engine.close()
    const closed = { instanceOf: EngineClosedError, code: 'ARCFLOW_ENGINE_CLOSED' }
    t.throws(() => engine.start(wf, 1), closed)
    t.throws(() => engine.run(wf, 1), closed)
    t.throws(() => engine.resume(run.id), closed)
    t.throws(() => engine.balance('acme'), closed)
    t.throws(() => engine.credit('acme', 1, { key: 'k2' }), closed)
    // reads are async: a closed engine rejects them
    await t.throwsAsync(engine.ledger('acme'), closed)
    await t.throwsAsync(engine.getRun(run.id), closed)
    await t.throwsAsync(engine.runs(), closed)
    await t.throwsAsync(engine.interruptedRuns(), closed)
    await t.throwsAsync(engine.flush(), closed)
    // what touches nothing closed still answers
    t.is(engine.stats().liveRuns, 0)
    await t.notThrowsAsync(engine.close())
  })
}

test.serial('a native call on a run that has ended is RunEndedError, not InternalError', async (t) => {
  const engine = new Engine().action('work', async (n: number) => n)
  const run = engine.start(oneTask(engine), 1)
  await run.result()
  const error = nativeError(() => native.runAttemptInput(run.handle, unit(0, 1, 2)))
  t.true(error instanceof RunEndedError, String(error))
  t.false(error instanceof InternalError)
  t.like(error, { code: 'ARCFLOW_RUN_ENDED', message: `run ${run.handle} has ended` })
  t.true(nativeError(() => native.runContext(run.handle)) instanceof RunEndedError)
  await engine.close()
})

test.serial('a run writing to a closed store fails with EngineClosedError', async (t) => {
  const engine = new Engine().action('work', async (n: number) => n)
  const wf = oneTask(engine)
  const store = new native.NativeStore(`sqlite:${dbPath()}`, 50, 1_000, 1_000, null)
  store.closeSync()
  const error = nativeError(() => native.runStart(wf.flow.register(), 4_000_000_000, '1', 'r-closed', Date.now(), store, null, null, null))
  t.true(error instanceof EngineClosedError, String(error))
  t.like(error, { code: 'ARCFLOW_ENGINE_CLOSED', message: 'the store is closed' })
  t.is(native.liveRunCount(), 0, 'a run that could not start holds no native state')
  await engine.close()
})
