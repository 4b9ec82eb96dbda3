// Hostile shapes, values and options (issue 17): each test is named after
// the break it pins.
import test from 'ava'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { Engine, InputError, RunExistsError, WorkflowError, type RunEvent } from '../lib/index'
import { setLongTimeout } from '../lib/engine/timers'

const dbPath = (): string => join(mkdtempSync(join(tmpdir(), 'arcflow-hostile-')), 'arcflow.db')

function engineFor(durability: 'none' | 'batched' | 'sync'): Engine {
  return new Engine(durability === 'none' ? {} : { store: `sqlite:${dbPath()}`, durability })
}

for (const durability of ['none', 'batched', 'sync'] as const) {
  test(`an empty with-items task beside a sibling no longer ends the run early (${durability})`, async (t) => {
    const ran: string[] = []
    const engine = engineFor(durability).action('a', async (_input, ctx) => {
      ran.push(ctx.task)
      return ctx.task
    })
    const wf = engine.workflow({
      name: 'empty-fan',
      tasks: {
        s: { action: 'a', next: { do: ['fan', 'side'] } },
        fan: { action: 'a', with: { items: '{{ [] }}' }, next: { do: 'join' } },
        side: { action: 'a', next: { do: 'join' } },
        join: { action: 'a', join: 'all' },
      },
      output: '{{ [tasks.fan.result, tasks.join.result] }}',
    })
    const run = engine.start(wf, {})
    t.deepEqual(await run.result(), [[], 'join'])
    t.deepEqual(ran.sort(), ['join', 's', 'side'])
    const succeeded = run.history().filter((e: RunEvent) => e.type === 'task.succeeded').map((e) => (e as { task: string }).task)
    t.deepEqual(succeeded.sort(), ['fan', 'join', 's', 'side'])
    await engine.close()
  })
}

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

test('a timer of 2^31 ms or more no longer fires at once: it runs in slices and stops when cleared', async (t) => {
  const fired: string[] = []
  // slices of 5 ms stand in for Node's 2^31 - 1 ms
  const long = setLongTimeout(() => fired.push('long'), 23, 5)
  const cleared = setLongTimeout(() => fired.push('cleared'), 23, 5)
  await pause(7)
  clearTimeout(cleared)
  await new Promise<void>((resolve) => setLongTimeout(() => resolve(), 60, 5))
  t.deepEqual(fired, ['long'])
  t.is(typeof long.refresh, 'function')
})

test("a task timeout of '600h' no longer times out at once", async (t) => {
  const engine = new Engine().action('short', async () => {
    await pause(20)
    return 'done'
  })
  const wf = engine.workflow({ name: 'long-timeout', tasks: { a: { action: 'short', timeout: '600h' } }, output: '{{ tasks.a.result }}' })
  t.is(await engine.run(wf), 'done')
})

for (const timeout of [2 ** 31, Infinity]) {
  test(`a run timeout of ${timeout} no longer ends the run timed_out at once`, async (t) => {
    const engine = new Engine().action('short', async () => {
      await pause(20)
      return 'done'
    })
    const wf = engine.workflow({ name: 'long-run', tasks: { a: { action: 'short' } }, output: '{{ tasks.a.result }}' })
    t.is(await engine.run(wf, undefined, { timeout }), 'done')
  })
}

test("a retry delay of '600h' no longer retries at once", async (t) => {
  let calls = 0
  const engine = new Engine().action('fails', async () => {
    calls++
    throw new Error('no')
  })
  const wf = engine.workflow({ name: 'long-retry', tasks: { a: { action: 'fails', retry: { count: 1, delay: '600h' } } } })
  const run = engine.start(wf)
  for await (const event of run.events()) {
    if (event.type === 'task.retrying') break
  }
  await pause(30)
  t.is(calls, 1, 'the second attempt waits for its delay')
  await run.cancel()
  t.is(run.status, 'cancelled')
})

test('durations outside 0 to 2^53 - 1 ms are refused by the loader and by start', (t) => {
  const engine = new Engine().action('a', async () => 1)
  for (const timeout of [`${'9'.repeat(400)}h`, 2 ** 53, -1, Number.NaN]) {
    const error = t.throws(() => engine.workflow({ name: 'bad', tasks: { a: { action: 'a', timeout } } }), { instanceOf: WorkflowError })
    t.regex(error?.message ?? '', /tasks\.a\.timeout/)
  }
  t.throws(() => engine.workflow({ name: 'bad', tasks: { a: { action: 'a', retry: { count: 1, delay: 2 ** 60 } } } }), { instanceOf: WorkflowError })
  const wf = engine.workflow({ name: 'ok', tasks: { a: { action: 'a' } } })
  for (const timeout of [-1, Number.NaN, 2 ** 53, '10' as unknown as number, -Infinity]) {
    t.throws(() => engine.start(wf, undefined, { timeout }), { instanceOf: InputError, message: /options\.timeout/ })
  }
  t.is(engine.stats().liveRuns, 0)
})

test("a reused runId no longer mixes runs or overspends: it is a RunExistsError live, just ended, committed and from another engine", async (t) => {
  const path = dbPath()
  const engine = new Engine({ store: `sqlite:${path}`, metering: { cost: 10 } }).action('pay', async (n: number) => n)
  engine.credit('acme', 100, { key: 'top-up' })
  const wf = engine.workflow({ name: 'pay', tasks: { p: { action: 'pay', input: '{{ input }}' } }, output: '{{ tasks.p.result }}' })
  t.is(await engine.run(wf, 1, { runId: 'order-42', account: 'acme' }), 1)
  // ended here, its writes possibly still queued; then committed; then from another engine on the file
  for (let i = 2; i <= 3; i++) {
    const error = t.throws(() => engine.start(wf, i, { runId: 'order-42', account: 'acme' }), { instanceOf: RunExistsError })
    t.is(error?.code, 'ARCFLOW_RUN_EXISTS')
    await engine.flush()
  }
  const live = engine.start(wf, 4, { runId: 'order-43', account: 'acme' })
  t.throws(() => engine.start(wf, 4, { runId: 'order-43', account: 'acme' }), { instanceOf: RunExistsError, message: /running in this engine/ })
  t.is(await live.result(), 4)
  await engine.close()
  const other = new Engine({ store: `sqlite:${path}`, metering: { cost: 10 } }).action('pay', async (n: number) => n)
  const wf2 = other.workflow({ name: 'pay', tasks: { p: { action: 'pay', input: '{{ input }}' } }, output: '{{ tasks.p.result }}' })
  t.throws(() => other.start(wf2, 5, { runId: 'order-42', account: 'acme' }), { instanceOf: RunExistsError, message: /in the store/ })
  t.is(other.balance('acme'), 80)
  const info = await other.getRun('order-42')
  t.like(info, { input: 1, output: 1, status: 'succeeded' })
  t.is((await other.ledger('acme')).filter((e) => e.amount < 0).length, 2)
  t.deepEqual(await other.interruptedRuns(), [])
  await other.close()
})

test('a bad start option (signal: {}) no longer journals a phantom running run: nothing is written', async (t) => {
  const engine = new Engine({ store: `sqlite:${dbPath()}` }).action('a', async () => 1)
  const wf = engine.workflow({ name: 'opts', tasks: { a: { action: 'a' } } })
  const bad: Array<Record<string, unknown>> = [
    { signal: {} },
    { signal: 'abort' },
    { durability: 'fast' },
    { account: 7 },
    { runId: 42 },
    { runId: '' },
    { timeout: '1s' },
  ]
  for (const options of bad) {
    const error = t.throws(() => engine.start(wf, undefined, options as never), { instanceOf: InputError })
    t.is(error?.code, 'ARCFLOW_INPUT')
    t.regex(error?.message ?? '', new RegExp(`options\\.${Object.keys(options)[0]}`))
  }
  t.throws(() => engine.start(wf, undefined, null as never), { instanceOf: InputError })
  t.throws(() => engine.resume('x', { signal: {} } as never), { instanceOf: InputError, message: /options\.signal/ })
  t.is(engine.stats().liveRuns, 0)
  await engine.flush()
  t.deepEqual(await engine.runs(), [])
  await engine.close()
})

test('run ids with lone surrogates no longer share a row, and a numeric runId is an InputError, not a napi StringExpected', async (t) => {
  const engine = new Engine({ store: `sqlite:${dbPath()}` }).action('a', async () => 1)
  const wf = engine.workflow({ name: 'ids', tasks: { a: { action: 'a' } } })
  for (const runId of ['\uD800', '\uDC00', 'a\uDBFFb']) {
    t.throws(() => engine.start(wf, undefined, { runId }), { instanceOf: InputError, message: /valid Unicode/ })
  }
  t.throws(() => engine.start(wf, undefined, { runId: 7 as never }), { instanceOf: InputError, message: /non-empty string/ })
  t.throws(() => engine.resume(7 as never), { instanceOf: InputError })
  await engine.run(wf, undefined, { runId: '\uD83D\uDE00' }) // a pair is fine
  await engine.flush()
  t.deepEqual((await engine.runs()).map((r) => r.id), ['\uD83D\uDE00'])
  await engine.close()
})

function deep(levels: number): unknown {
  let value: unknown = 'leaf'
  for (let i = 0; i < levels; i++) value = [value]
  return value
}

for (const [what, bad] of [['nested deeper than 100 levels', deep(101)], ['holding a lone surrogate', { s: 'x\uD800' }]] as const) {
  test(`a result ${what} no longer fails the run: it fails the attempt with a ValueError, through retries and failed()`, async (t) => {
    const engine = new Engine({ store: `sqlite:${dbPath()}` })
      .action('flaky', async (_input, ctx) => (ctx.attempt < 3 ? bad : 'ok'))
      .action('bad', async () => bad)
      .action('items', async (_input, ctx) => (ctx.attempt < 2 ? bad : ctx.index))
    const retried = engine.workflow({ name: 'retried', tasks: { a: { action: 'flaky', retry: 2 } }, output: '{{ tasks.a.result }}' })
    const run = engine.start(retried)
    t.is(await run.result(), 'ok')
    const retrying = run.history().filter((e) => e.type === 'task.retrying') as Array<RunEvent & { error: { name: string; code?: string } }>
    t.deepEqual(retrying.map((e) => [e.error.name, e.error.code]), [['ValueError', 'ARCFLOW_INVALID_VALUE'], ['ValueError', 'ARCFLOW_INVALID_VALUE']])
    const handled = engine.workflow({ name: 'handled', tasks: { a: { action: 'bad', next: [{ when: '{{ failed() }}', publish: { seen: '{{ error().name }}' } }] } }, output: '{{ vars.seen }}' })
    const second = engine.start(handled)
    t.is(await second.result(), 'ValueError')
    const items = engine.workflow({ name: 'items', tasks: { a: { action: 'items', with: { items: '{{ [1, 2] }}' }, retry: 1 } }, output: '{{ tasks.a.result }}' })
    t.deepEqual(await engine.run(items), [0, 1])
    await engine.flush()
    const info = await engine.getRun(second.id)
    t.deepEqual(info?.tasks.map((task) => task.status), ['failed'])
    await engine.close()
  })
}

test('a log message with a lone surrogate is replaced visibly (U+FFFD) in the event and the stored row alike', async (t) => {
  const engine = new Engine({ store: `sqlite:${dbPath()}` }).action('a', async (_input, ctx) => {
    ctx.log('half \uD800 pair')
    return 1
  })
  const run = engine.start(engine.workflow({ name: 'log', tasks: { a: { action: 'a' } } }))
  await run.result()
  const logged = run.history().find((e) => e.type === 'task.log') as RunEvent & { message: string }
  t.is(logged.message, 'half \uFFFD pair')
  await engine.flush()
  t.deepEqual((await engine.getRun(run.id))?.events.filter((e) => e.kind === 'task.log').map((e) => e.message), ['half \uFFFD pair'])
  await engine.close()
})
