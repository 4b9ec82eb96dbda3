// Metering: reservations on the hot path, charges in the ledger once per
// billable unit, and bad input refused before anything is written.
import test from 'ava'
import { spawn } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'

import { Engine, InsufficientBalanceError, MeteringError, RunFailedError, type RunEvent } from '../lib/index'
import { SqliteStoreForTests } from './helpers/sqlite'
import { exactlyCovered, oneTask } from './scenarios/metering'

const dbPath = (): string => join(mkdtempSync(join(tmpdir(), 'arcflow-meter-')), 'arcflow.db')

test('1,000 concurrent runs on an account that covers 300 tasks: exactly 300 run, the balance ends at 0 (in memory)', (t) => exactlyCovered(t))

test('the same on the durable store: the ledger and the balance on disk agree', async (t) => {
  const path = dbPath()
  await exactlyCovered(t, `sqlite:${path}`)
  const db = new SqliteStoreForTests(path)
  t.is(db.value("SELECT balance FROM accounts WHERE id = 'acme'"), 0)
  t.is(db.value("SELECT COUNT(*) FROM ledger WHERE kind = 'charge'"), 300)
  t.is(db.value('SELECT SUM(amount) FROM ledger'), 0)
  db.close()
  // a new engine reads the balance back from the store
  const again = new Engine({ store: `sqlite:${path}` })
  t.is(again.balance('acme'), 0)
  t.is((await again.ledger('acme', { limit: 1 })).length, 1)
  await again.close()
})

test('the estimate is reserved, then the actual cost charged: ctx.charge() refunds the rest; failures are refunded unless billFailed', async (t) => {
  for (const billFailed of [false, true]) {
    const engine = new Engine({ metering: { billFailed } })
    engine.action('work', async (input: { use: number; fail?: boolean }, ctx) => {
      ctx.charge(input.use)
      if (input.fail) throw new Error('nope')
      return input.use
    }, { cost: (input) => (input as { use: number }).use * 2 })
    const wf = oneTask(engine)
    engine.credit('acme', 100, { key: 'k' })
    t.is(await engine.run(wf, { use: 7 }, { account: 'acme' }), 7)
    t.is(engine.balance('acme'), 93, 'reserved 14, charged 7')
    await t.throwsAsync(engine.run(wf, { use: 5, fail: true }, { account: 'acme' }))
    t.is(engine.balance('acme'), billFailed ? 88 : 93, billFailed ? 'a failed attempt is billed' : 'a failed attempt is refunded')
    t.is((await engine.ledger('acme')).filter((e) => e.kind === 'charge').length, billFailed ? 2 : 1)
    await engine.close()
  }
})

test('each retried attempt is a billable unit of its own; a run without an account is not metered', async (t) => {
  const engine = new Engine()
  let calls = 0
  engine.action('flaky', async () => {
    if (++calls < 3) throw new Error('again')
    return 'ok'
  }, { cost: 4 })
  const wf = engine.workflow({ name: 'r', tasks: { t: { action: 'flaky', retry: { count: 3 } } } })
  engine.credit('acme', 50, { key: 'k' })
  await engine.run(wf, undefined, { account: 'acme' })
  t.is(engine.balance('acme'), 46, 'two failed attempts refunded, the third charged')
  calls = 0
  await engine.run(wf) // no account
  t.is(engine.balance('acme'), 46)
  await engine.close()
})

test('allowNegative and overdraft let a balance go below zero, as far as allowed', async (t) => {
  const over = new Engine({ metering: { overdraft: 5 } }).action('work', async () => 1, { cost: 4 })
  over.credit('a', 4, { key: 'k' })
  const wf = oneTask(over)
  await over.run(wf, 1, { account: 'a' })
  await over.run(wf, 1, { account: 'a' }) // 0 - 4 = -4 >= -5
  t.is(over.balance('a'), -4)
  await t.throwsAsync(over.run(wf, 1, { account: 'a' }), { instanceOf: RunFailedError })
  const free = new Engine({ metering: { allowNegative: true } }).action('work', async () => 1, { cost: 1_000 })
  free.credit('a', 1, { key: 'k' })
  await free.run(oneTask(free), 1, { account: 'a' })
  t.is(free.balance('a'), -999)
})

test('a cancelled or timed-out run gives back what its attempts in flight reserved', async (t) => {
  const engine = new Engine().action('hang', () => new Promise(() => {}), { cost: 10 })
  engine.credit('acme', 30, { key: 'k' })
  const wf = engine.workflow({ name: 'h', tasks: { t: { action: 'hang', with: { items: [1, 2, 3], concurrency: 3 } } } })
  const run = engine.start(wf, undefined, { account: 'acme' })
  await new Promise((resolve) => setTimeout(resolve, 20))
  t.is(engine.balance('acme'), 0, 'three items hold 30')
  await run.cancel()
  t.is(engine.balance('acme'), 30)
  await t.throwsAsync(engine.run(wf, undefined, { account: 'acme', timeout: 20 }))
  t.is(engine.balance('acme'), 30)
  t.deepEqual((await engine.ledger('acme')).map((e) => e.kind), ['credit'])
})

test('bad input: costs, amounts, accounts and keys are clear errors, and nothing is half-written', async (t) => {
  const engine = new Engine()
  for (const cost of [-1, 1.5, NaN, Infinity, 2 ** 53, '5', 10n]) {
    t.throws(() => engine.action('x', async () => 1, { cost: cost as never }), { instanceOf: MeteringError, message: /whole number of credits/ }, String(cost))
  }
  t.throws(() => new Engine({ metering: { cost: -3 } }), { instanceOf: MeteringError })
  t.throws(() => engine.credit('acme', -5, { key: 'k' }), { instanceOf: MeteringError })
  t.throws(() => engine.credit('acme', 0.5, { key: 'k' }), { instanceOf: MeteringError })
  t.throws(() => engine.credit('acme', 5, {} as never), { instanceOf: MeteringError, message: /needs a key/ })
  t.throws(() => engine.credit('', 5, { key: 'k' }), { instanceOf: MeteringError })
  t.throws(() => engine.balance('nobody'), { instanceOf: MeteringError, message: /unknown account 'nobody'/ })
  engine.action('work', async () => 1, { cost: 1 })
  const wf = oneTask(engine)
  t.throws(() => engine.start(wf, 1, { account: 'nobody' }), { instanceOf: MeteringError, message: /unknown account 'nobody'/ })
  engine.credit('acme', 10, { key: 'k' })
  // a cost function that throws, or answers nonsense: the attempt fails, nothing is reserved or charged
  for (const [name, cost] of [['throws', () => { throw new Error('no price list') }], ['nan', () => NaN], ['negative', () => -2], ['huge', () => 2 ** 60]] as const) {
    engine.action(name, async () => 1, { cost })
    const error = await t.throwsAsync(engine.run(oneTask(engine, name), 1, { account: 'acme' }), { instanceOf: RunFailedError })
    t.is((error!.cause as { code?: string }).code, 'ARCFLOW_METERING', name)
  }
  t.is(engine.balance('acme'), 10)
  t.deepEqual((await engine.ledger('acme')).map((e) => e.kind), ['credit'])
  // ctx.charge() with nonsense is the handler's own error
  engine.action('bad-charge', async (_: unknown, ctx) => ctx.charge(-1), { cost: 1 })
  await t.throwsAsync(engine.run(oneTask(engine, 'bad-charge'), 1, { account: 'acme' }), { instanceOf: RunFailedError, message: /ctx\.charge\(\)/ })
  t.is(engine.balance('acme'), 10)
  t.true(new InsufficientBalanceError('a', 2, 1).message.includes('needs 2'))
})

test('kill -9 after a reservation and before its flush: after resume the balance and the ledger agree, nothing charged twice', async (t) => {
  const path = dbPath()
  const child = spawn(process.execPath, [join(__dirname, 'fixtures', 'metering-child.mjs'), path], { stdio: ['ignore', 'pipe', 'inherit'] })
  let runId = ''
  let balanceInChild = -1
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const [kind, a, b] = line.split(' ')
      if (kind === 'run') runId = a!
      if (kind === 'started' && a === 't3') {
        balanceInChild = Number(b)
        child.kill('SIGKILL')
      }
    })
    child.on('exit', (_code, signal) => (signal === 'SIGKILL' ? resolve() : reject(new Error(`the child exited by itself (${signal})`))))
  })
  t.is(balanceInChild, 1_000 - 40, "three charges and t3's reservation, in the child's memory")
  const engine = new Engine({ store: `sqlite:${path}` })
  // the reservation died with the process: the store has 3 charges
  t.is(engine.balance('acme'), 1_000 - 30)
  engine.action('step', async (n: number) => n + 1, { cost: 10 })
  engine.action('hang', async (n: number) => n + 1, { cost: 10 })
  const tasks: Record<string, unknown> = {}
  for (let i = 0; i < 6; i++) tasks[`t${i}`] = { action: i === 3 ? 'hang' : 'step', input: i === 0 ? '{{ input }}' : `{{ tasks.t${i - 1}.result }}`, retry: { count: 1 }, ...(i < 5 ? { next: { do: `t${i + 1}` } } : {}) }
  engine.workflow({ name: 'metered', tasks, output: '{{ tasks.t5.result }}' })
  // the same workflow; t3's interrupted attempt is retried under its policy
  t.is(await engine.resume(runId).result(), 6)
  await engine.flush()
  const ledger = await engine.ledger('acme', { limit: 100 })
  const charges = ledger.filter((e) => e.kind === 'charge')
  t.deepEqual(charges.map((e) => e.task).sort(), ['t0', 't1', 't2', 't3', 't4', 't5'], 'one charge per task: none twice')
  t.like(charges.find((e) => e.task === 't3'), { attempt: 2, amount: -10 })
  t.is(engine.balance('acme'), 1_000 - 60)
  t.is(engine.balance('acme'), ledger.reduce((sum, e) => sum + e.amount, 0), 'the balance is the ledger')
  await engine.close()
})

test('a closed engine frees its meter: its accounts are no longer reachable through it', async (t) => {
  const engine = new Engine().action('work', async () => 1, { cost: 1 })
  engine.credit('acme', 5, { key: 'k' })
  await engine.run(oneTask(engine), 1, { account: 'acme' })
  await engine.close()
  t.throws(() => engine.balance('acme'), { code: 'ARCFLOW_ENGINE_CLOSED' })
  // another engine (in memory) has accounts of its own
  const other = new Engine()
  t.throws(() => other.balance('acme'), { instanceOf: MeteringError })
})

test('credits the core reserved with a schedule go back when the run never starts those tasks', async (t) => {
  // cancelled before its start tasks run
  const engine = new Engine().action('work', async () => 1, { cost: 10 })
  engine.credit('acme', 100, { key: 'k' })
  const two = engine.workflow({ name: 'two', start: ['a', 'b'], tasks: { a: { action: 'work' }, b: { action: 'work' } } })
  const run = engine.start(two, undefined, { account: 'acme' })
  await run.cancel()
  t.is(engine.balance('acme'), 100)
  // the step limit stops what a transition scheduled
  const fan = engine.workflow({ name: 'fan', step_limit: 1, tasks: { a: { action: 'work', next: { do: ['b', 'c'] } }, b: { action: 'work' }, c: { action: 'work' } } })
  await t.throwsAsync(engine.run(fan, undefined, { account: 'acme' }), { message: /step limit/ })
  t.is(engine.balance('acme'), 90, 'a was charged; what b and c reserved came back')
  // a sync run cancelled while it waits for a commit
  const durable = new Engine({ store: `sqlite:${dbPath()}`, durability: 'sync' }).action('work', async () => 1, { cost: 10 })
  durable.credit('acme', 100, { key: 'k' })
  const chain = durable.workflow({ name: 'chain', tasks: { a: { action: 'work', next: { do: 'b' } }, b: { action: 'work' } } })
  const waiting = durable.start(chain, undefined, { account: 'acme' })
  waiting.events() // (events replay: nothing to consume)
  durable.on('event', (e) => {
    if (e.type === 'task.started' && e.task === 'a') setImmediate(() => void waiting.cancel())
  })
  await waiting.result().catch(() => undefined)
  await durable.flush()
  const charged = (await durable.ledger('acme')).filter((e) => e.kind === 'charge').length
  t.is(durable.balance('acme'), 100 - 10 * charged, 'the balance is what the ledger charged')
  await durable.close()
})

test('a result that cannot be kept fails the task, unbilled; an uncovered item stops its siblings at once', async (t) => {
  const engine = new Engine()
  engine.action('big', async () => ({ n: 10n }), { cost: 10 })
  engine.credit('acme', 100, { key: 'k' })
  await t.throwsAsync(engine.run(oneTask(engine, 'big'), 1, { account: 'acme' }))
  t.is(engine.balance('acme'), 100)
  t.deepEqual((await engine.ledger('acme')).map((e) => e.kind), ['credit'])

  const ran: number[] = []
  engine.action('item', async (cost: number) => {
    ran.push(cost)
    return cost
  }, { cost: (cost) => cost as number })
  const items = engine.workflow({ name: 'items', tasks: { each: { action: 'item', with: { items: [100, 1, 2, 3000, 4], concurrency: 5 }, input: '{{ item }}' } } })
  const insufficient: RunEvent[] = []
  engine.on('event', (e) => {
    if (e.type === 'billing.insufficient_balance') insufficient.push(e)
  })
  await t.throwsAsync(engine.run(items, undefined, { account: 'acme' }), { instanceOf: RunFailedError })
  t.deepEqual(ran, [100], 'nothing after the first uncovered item started')
  t.is(insufficient.length, 1)
  t.is(engine.balance('acme'), 100, 'the run failed: its items in flight gave their reservations back')
})

test('a sync run whose end the core recorded is not turned into a cancel by a late cancel()', async (t) => {
  const path = dbPath()
  const engine = new Engine({ store: `sqlite:${path}`, durability: 'sync' })
  let run!: ReturnType<Engine['start']>
  engine.action('work', async () => {
    setImmediate(() => void run.cancel()) // lands while the run waits for its commit
    return 1
  })
  run = engine.start(engine.workflow({ name: 'one', tasks: { t: { action: 'work' } }, output: '{{ tasks.t.result }}' }))
  t.is(await run.result(), 1)
  t.is(run.status, 'succeeded')
  await engine.close()
  const reader = new Engine({ store: `sqlite:${path}` })
  t.like(await reader.getRun(run.id), { status: 'succeeded', output: 1 })
  await reader.close()
})
