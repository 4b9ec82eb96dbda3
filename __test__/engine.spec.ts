import test from 'ava'
import { join } from 'node:path'

import { Engine, InputError, RunFailedError, RunStoppedError, WorkflowError, type RunEvent } from '../lib/index'

const flows = join(__dirname, '..', 'examples', 'flows')

function engineWithBasics(): Engine {
  return new Engine()
    .action('http.get', async ({ url }: { url: string }) => `page ${url}`)
    .action('text.join', async ({ parts }: { parts: string[] }) => parts.join(' | '))
    .action('echo', async (input: unknown) => input)
}

test('the issue example runs end to end: with-items, publish, output', async (t) => {
  const engine = engineWithBasics()
  const output = await engine.run(engine.load(join(flows, 'fetch-report.yaml')), { urls: ['a', 'b', 'c'] })
  t.deepEqual(output, { summary: 'page a | page b | page c' })
})

test('with-items keeps at most `concurrency` in flight and results in item order', async (t) => {
  let inFlight = 0
  let peak = 0
  const engine = new Engine().action('slow', async ({ n }: { n: number }, ctx) => {
    inFlight++
    peak = Math.max(peak, inFlight)
    await new Promise((r) => setTimeout(r, (10 - n) * 2))
    inFlight--
    t.is(ctx.item, n)
    return n * 10 + (ctx.index ?? -1)
  })
  const wf = engine.workflow({
    name: 'fan',
    tasks: { each: { action: 'slow', with: { items: '{{ input }}', concurrency: 3 }, input: { n: '{{ item }}' } } },
    output: '{{ tasks.each.result }}',
  })
  const items = [1, 2, 3, 4, 5, 6, 7, 8]
  t.deepEqual(await engine.run(wf, items), items.map((n, i) => n * 10 + i))
  t.is(peak, 3)
})

test('retries follow the policy and emit task.retrying; the run succeeds on a later attempt', async (t) => {
  let calls = 0
  const engine = new Engine().action('flaky', async (_input, ctx) => {
    calls++
    if (ctx.attempt < 3) throw new Error(`boom ${ctx.attempt}`)
    return 'ok'
  })
  const wf = engine.workflow({
    name: 'r',
    tasks: { f: { action: 'flaky', retry: { count: 3, delay: '5ms', backoff: 'exponential' } } },
    output: '{{ tasks.f.result }}',
  })
  const run = engine.start(wf)
  t.is(await run.result(), 'ok')
  t.is(calls, 3)
  const events: RunEvent[] = []
  for await (const e of run.events()) events.push(e)
  const retrying = events.filter((e) => e.type === 'task.retrying')
  t.deepEqual(retrying.map((e) => (e as { delayMs: number }).delayMs), [5, 10])
  t.deepEqual(retrying.map((e) => (e as { error: { message: string } }).error.message), ['boom 1', 'boom 2'])
})

test('a handler that never settles times out: its signal aborts at once and its late result is discarded', async (t) => {
  let aborted = false
  const engine = new Engine().action('hang', (_input, ctx) => {
    ctx.signal.addEventListener('abort', () => (aborted = true))
    return new Promise(() => {})
  })
  const wf = engine.workflow({ name: 'h', tasks: { h: { action: 'hang', timeout: '20ms', next: [{ when: '{{ timed_out() }}', publish: { late: true } }] } }, output: '{{ vars.late }}' })
  const run = engine.start(wf)
  t.is(await run.result(), true)
  t.true(aborted)
  const types: string[] = []
  for await (const e of run.events()) types.push(e.type)
  t.deepEqual(types, ['run.started', 'task.started', 'task.timed_out', 'run.succeeded'])
})

test('handlers may throw anything; an unhandled failure fails the run with RunFailedError', async (t) => {
  for (const [thrown, message] of [
    [new TypeError('typed'), 'typed'],
    ['a string', 'a string'],
    [{ code: 42 }, '{"code":42}'],
    [undefined, 'handler threw undefined'],
  ] as const) {
    const engine = new Engine().action('bad', () => {
      throw thrown
    })
    const wf = engine.workflow({ name: 'b', tasks: { b: { action: 'bad' } } })
    const error = await t.throwsAsync(engine.run(wf), { instanceOf: RunFailedError })
    t.is(error?.code, 'ARCFLOW_RUN_FAILED')
    t.is(error?.task, 'b')
    t.is(error?.attempt, 1)
    t.is(error?.failure.message, message)
    t.true(error?.cause instanceof Error)
  }
})

test('a failed() transition handles a failure and templates read error()', async (t) => {
  const cause = new Error('root cause')
  const engine = new Engine()
    .action('bad', () => {
      throw new Error('top', { cause })
    })
    .action('echo', async (input: unknown) => input)
  const wf = engine.workflow({
    name: 'f',
    tasks: {
      bad: { action: 'bad', next: [{ when: '{{ failed() }}', publish: { why: '{{ error().message }}', root: '{{ error().cause.message }}' }, do: 'recover' }] },
      recover: { action: 'echo', input: { status: '{{ tasks.bad.status }}' } },
    },
    output: { why: '{{ vars.why }}', root: '{{ vars.root }}', recovered: '{{ tasks.recover.result }}' },
  })
  t.deepEqual(await engine.run(wf), { why: 'top', root: 'root cause', recovered: { status: 'failed' } })
})

test('join: all waits for every inbound transition', async (t) => {
  const engine = engineWithBasics()
  const wf = engine.workflow({
    name: 'j',
    tasks: {
      a: { action: 'echo', input: 'a', next: { do: 'merge' } },
      b: { action: 'echo', input: 'b', next: { do: 'merge' } },
      merge: { action: 'echo', join: 'all', input: '{{ [tasks.a.result, tasks.b.result] }}' },
    },
    output: '{{ tasks.merge.result }}',
  })
  const run = engine.start(wf)
  t.deepEqual(await run.result(), ['a', 'b'])
  let merges = 0
  for await (const e of run.events()) if (e.type === 'task.started' && e.task === 'merge') merges++
  t.is(merges, 1)
})

test('a cycle is bounded by the step limit, with a clear error', async (t) => {
  const engine = engineWithBasics()
  const wf = engine.workflow({ name: 'loop', step_limit: 5, start: 'a', tasks: { a: { action: 'echo', next: { do: 'a' } } } })
  const error = await t.throwsAsync(engine.run(wf), { instanceOf: RunFailedError })
  t.regex(error?.message ?? '', /step limit of 5/)
})

test('cancel_running aborts every in-flight item at once and nothing new starts', async (t) => {
  let started = 0
  let aborted = 0
  const engine = new Engine().action('wait', (_input, ctx) => {
    started++
    return new Promise((_resolve, reject) => ctx.signal.addEventListener('abort', () => { aborted++; reject(new Error('aborted')) }))
  })
  const wf = engine.workflow({ name: 'c', tasks: { w: { action: 'wait', with: { items: '{{ range(100) }}', concurrency: 4 } } } })
  const run = engine.start(wf)
  await new Promise((r) => setTimeout(r, 20))
  await run.cancel({ policy: 'cancel_running' })
  t.is(run.status, 'cancelled')
  t.is(started, 4)
  t.is(aborted, 4)
  await t.throwsAsync(run.result(), { instanceOf: RunStoppedError, code: 'ARCFLOW_RUN_CANCELLED' })
})

test('allow_finish lets in-flight work complete and starts nothing new', async (t) => {
  let finished = 0
  const engine = new Engine().action('work', async (_input, ctx) => {
    await new Promise((r) => setTimeout(r, 15))
    t.false(ctx.signal.aborted)
    finished++
    return 1
  })
  const wf = engine.workflow({ name: 'c', tasks: { w: { action: 'work', with: { items: '{{ range(10) }}', concurrency: 2 } } } })
  const run = engine.start(wf)
  await new Promise((r) => setTimeout(r, 5))
  await run.cancel({ policy: 'allow_finish' })
  t.is(run.status, 'cancelled')
  t.is(finished, 2)
})

test('the start signal cancels and a run timeout ends the run timed_out', async (t) => {
  const engine = new Engine().action('hang', () => new Promise(() => {}))
  const wf = engine.workflow({ name: 'h', tasks: { h: { action: 'hang' } } })
  const controller = new AbortController()
  const run = engine.start(wf, undefined, { signal: controller.signal })
  controller.abort()
  await t.throwsAsync(run.result(), { code: 'ARCFLOW_RUN_CANCELLED' })
  await t.throwsAsync(engine.run(wf, undefined, { timeout: 10 }), { instanceOf: RunStoppedError, code: 'ARCFLOW_RUN_TIMED_OUT' })
})

test('events arrive complete and in order for a slow consumer, and replay when read late', async (t) => {
  const engine = engineWithBasics()
  const seen: RunEvent[] = []
  engine.on('event', (e) => seen.push(e))
  const wf = engine.workflow({ name: 'e', tasks: { each: { action: 'echo', with: { items: '{{ range(50) }}', concurrency: 5 }, input: '{{ item }}' } } })
  const run = engine.start(wf)
  const slow: RunEvent[] = []
  for await (const e of run.events()) {
    slow.push(e)
    await new Promise((r) => setTimeout(r, 1))
  }
  await run.result()
  const late: RunEvent[] = []
  for await (const e of run.events()) late.push(e)
  t.deepEqual(slow, seen)
  t.deepEqual(late, seen)
  t.is(seen.filter((e) => e.type === 'item.completed').length, 50)
  t.is(seen[0].type, 'run.started')
  t.is(seen.at(-1)?.type, 'run.succeeded')
  t.true(seen.every((e) => e.runId === run.id && typeof e.time === 'number'))
})

test('bad workflows and inputs fail before any task runs', async (t) => {
  let ran = false
  const engine = new Engine().action('go', () => (ran = true))
  t.throws(() => engine.workflow({ name: 'x', tasks: { a: { action: 'gone' } } }), { instanceOf: WorkflowError, message: /action 'gone' is not registered/ })
  t.throws(() => engine.workflow({ name: 'x', tasks: { a: { action: 'go', input: '{{ +' } } }), { instanceOf: WorkflowError })
  const needsInput = engine.workflow({ name: 'x', input: ['urls'], tasks: { a: { action: 'go' } } })
  t.throws(() => engine.start(needsInput, {}), { instanceOf: InputError, message: /needs different input:\n  input.urls: required/ })
  const other = new Engine()
  t.throws(() => other.start(needsInput, { urls: [] }), { instanceOf: InputError, message: /not registered/ })
  t.false(ran)
  await engine.close()
  t.throws(() => engine.start(needsInput, { urls: [] }), { code: 'ARCFLOW_ENGINE_CLOSED' })
})

test('a JSON Schema input is checked at start, every problem listed with its path', async (t) => {
  const engine = new Engine().action('echo', async (input: unknown) => input)
  const wf = engine.workflow({
    name: 'typed',
    input: {
      type: 'object',
      required: ['urls', 'limit'],
      properties: { urls: { type: 'array', items: { type: 'string', format: 'uri' } }, limit: { type: 'integer', minimum: 1 } },
      additionalProperties: false,
    },
    tasks: { a: { action: 'echo', input: '{{ input.limit }}' } },
    output: '{{ tasks.a.result }}',
  })
  const error = t.throws(() => engine.start(wf, { urls: ['https://a.example', 7, 'not a uri'], limit: 0, extra: true }), { instanceOf: InputError })
  t.deepEqual(error?.problems, [
    'input: must NOT have additional properties (\'extra\')',
    'input.urls[1]: must be string',
    'input.urls[2]: must match format "uri"',
    'input.limit: must be >= 1',
  ])
  t.is(await engine.run(wf, { urls: ['https://a.example'], limit: 3 }), 3)
  t.throws(() => engine.workflow({ name: 'bad', input: { type: 'nonsense' }, tasks: { a: { action: 'echo' } } }), {
    instanceOf: WorkflowError,
    message: /input: 'input' is not a valid JSON Schema/,
  })
})

// The design's promise, guarded by counting (not timing): one native call
// per task of a chain (its completion also renders the next task's input),
// and for with-items one call per window of items, not one per item.
test('boundary crossings: one per chained task, a handful per with-items task', async (t) => {
  const engine = new Engine().action('inc', async (n: number) => n + 1)
  const tasks: Record<string, unknown> = {}
  for (let i = 0; i < 10; i++) {
    tasks[`t${i}`] = { action: 'inc', input: i === 0 ? '{{ input }}' : `{{ tasks.t${i - 1}.result }}`, ...(i < 9 ? { next: { do: `t${i + 1}` } } : {}) }
  }
  const chain = engine.start(engine.workflow({ name: 'chain', tasks, output: '{{ tasks.t9.result }}' }), 0)
  t.is(await chain.result(), 10)
  // start (renders t0's input) + one completion per task (the last one renders the output)
  t.deepEqual(chain.stats(), { tasks: 10, nativeCalls: 11 })

  const fan = engine.workflow({ name: 'fan', tasks: { each: { action: 'inc', with: { items: '{{ input }}', concurrency: 64 }, input: '{{ item }}' } }, output: '{{ tasks.each.result | length }}' })
  const run = engine.start(fan, Array.from({ length: 10_000 }, (_, i) => i))
  t.is(await run.result(), 10_000)
  const { nativeCalls } = run.stats()
  // start + items + 10,000 / 64 windows of inputs + end of items + completion
  t.is(nativeCalls, 1 + 1 + Math.ceil(10_000 / 64) + 1 + 1)
})

test('a handler reads its signal, item and index; the signal aborts when a sibling item fails', async (t) => {
  const seen: Array<{ aborted: boolean; reason: unknown }> = []
  const engine = new Engine().action('work', async (n: number, ctx) => {
    if (n === 3) throw new Error('three')
    const signal = ctx.signal
    await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }))
    seen.push({ aborted: signal.aborted, reason: (signal.reason as Error).message })
  })
  const wf = engine.workflow({ name: 'w', tasks: { each: { action: 'work', with: { items: '{{ input }}', concurrency: 4 }, input: '{{ item }}' } } })
  await t.throwsAsync(engine.run(wf, [1, 2, 3, 4]), { instanceOf: RunFailedError, message: /three/ })
  await new Promise((r) => setImmediate(r))
  t.is(seen.length, 3)
  t.true(seen.every((s) => s.aborted && /item 2 of task 'each' failed|run failed/.test(String(s.reason))))
})

test('a with-items task whose actions settle at once still lets the event loop turn', async (t) => {
  const engine = new Engine().action('now', async (n: number) => n + 1)
  const wf = engine.workflow({ name: 'fan', tasks: { each: { action: 'now', with: { items: '{{ range(input) }}', concurrency: 64 }, input: '{{ item }}' } }, output: '{{ tasks.each.result | length }}' })
  let turns = 0
  let ticking = true
  const tick = (): void => {
    turns++
    if (ticking) setImmediate(tick)
  }
  setImmediate(tick)
  t.is(await engine.run(wf, 10_240), 10_240)
  ticking = false
  // without yielding, the whole list runs on microtasks and the loop never turns
  t.true(turns >= 5, `the event loop turned ${turns} times during 10,240 items`)
})
