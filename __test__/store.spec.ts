// The durable store through the engine, on real SQLite files: history,
// close with a full queue, and real crashes (kill -9 of a child process).
import test from 'ava'
import { spawn } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'

import { Engine, StoreError } from '../lib/index'
import { executionsFromEvents } from '../lib/engine/history'
import { uuidv7 } from '../lib/engine/run-id'
import { DurableStore, silentLogger } from '../lib/store/store'
import { parseStoreUrl } from '../lib/store/url'

const fixtures = join(__dirname, 'fixtures')
const dbPath = (): string => join(mkdtempSync(join(tmpdir(), 'arcflow-store-')), 'arcflow.db')

function chainWorkflow(engine: Engine, length = 10) {
  const tasks: Record<string, unknown> = {}
  for (let i = 0; i < length; i++) {
    tasks[`t${i}`] = { action: 'step', input: i === 0 ? '{{ input }}' : `{{ tasks.t${i - 1}.result }}`, ...(i < length - 1 ? { next: { do: `t${i + 1}`, publish: { last: '{{ result() }}' } } } : {}) }
  }
  return engine.workflow({ name: 'chain', tasks, output: '{{ tasks.t' + (length - 1) + '.result }}' })
}

test('a durable run is on disk with its tasks, variables, output and status, and reads back', async (t) => {
  const path = dbPath()
  const logged: string[] = []
  const logger = { debug: () => {}, info: (m: string) => logged.push(m), warn: (m: string) => logged.push(m), error: (m: string) => logged.push(m) }
  const engine = new Engine({ store: `sqlite:${path}`, logger }).action('step', async (n: number) => n + 1)
  const run = engine.start(chainWorkflow(engine), 5)
  t.is(await run.result(), 15)
  const failing = engine.workflow({ name: 'boom', tasks: { a: { action: 'step', input: '{{ input.missing + 1 }}' } } })
  const failed = engine.start(failing, {}, { runId: 'the-failed-one' })
  await t.throwsAsync(failed.result())
  await engine.close()
  t.deepEqual(logged, ['arcflow store opened', 'arcflow store closed'])

  const reader = new Engine({ store: `sqlite:${path}` })
  const info = (await reader.getRun(run.id))!
  t.like(info, { id: run.id, workflow: 'chain', status: 'succeeded', live: false, input: 5, output: 15 })
  t.deepEqual(info.tasks.map((x) => [x.task, x.result]), Array.from({ length: 10 }, (_, i) => [`t${i}`, 6 + i]))
  t.like(await reader.getRun('the-failed-one'), { status: 'failed', workflow: 'boom' })
  t.deepEqual((await reader.runs({ status: 'succeeded' })).map((r) => r.id), [run.id])
  t.deepEqual(await reader.interruptedRuns(), [])
  t.is(reader.stats().store?.queueDepth, 0)
  await reader.close()
})

test('close() with a full queue loses nothing', async (t) => {
  const path = dbPath()
  // a flush interval no test waits for, and a capacity that makes runs wait for the store
  const engine = new Engine({ store: `sqlite:${path}`, flushIntervalMs: 600_000, batchSize: 1_000, queueCapacity: 5_000 }).action('step', async (n: number) => n + 1)
  const wf = chainWorkflow(engine)
  const runs = Array.from({ length: 300 }, () => engine.start(wf, 0))
  await Promise.all(runs.map((r) => r.result()))
  const before = engine.stats().store!
  t.true(before.enqueued > 6_000, `${before.enqueued} writes queued`)
  await engine.close()
  const after = engine.stats().store!
  t.is(after.committed, before.enqueued)
  t.is(after.queueDepth, 0)
  const reader = new Engine({ store: `sqlite:${path}` })
  t.is((await reader.runs({ status: 'succeeded', limit: 1_000 })).length, 300)
  t.is((await reader.getRun(runs[299]!.id))!.tasks.length, 10)
  await reader.close()
})

test('a bad store is a clear error at construction', (t) => {
  t.throws(() => new Engine({ store: 'mysql://nope' }), { instanceOf: StoreError, message: /use 'memory', 'sqlite:PATH' or 'postgres:/ })
  t.throws(() => new Engine({ store: 'sqlite:/nonexistent-dir/x/y.db' }), { instanceOf: StoreError, code: 'ARCFLOW_STORE' })
  t.throws(() => new Engine({ durability: 'sync' }), { instanceOf: TypeError, message: /needs a store/ })
})

interface Crash {
  acks: Array<{ run: string; task: string; seq: number }>
  killedAt: number
  maxDepth: number
  /** The store's committed count the child last reported before the kill. */
  committed: number
}

/**
 * Runs the crash child until it has acknowledged `minAcks` tasks with
 * `minDepth` writes queued, and has run for `minMs` (so that flushes have
 * happened; with `minMs`, it has also reported a commit, which a loaded
 * machine may take longer than `minMs` to make), then kills it -9.
 */
function crashChild(path: string, durability: string, flushIntervalMs: number, minAcks: number, minDepth: number, minMs = 0): Promise<Crash> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(fixtures, 'crash-child.mjs'), path, durability, String(flushIntervalMs)], { stdio: ['ignore', 'pipe', 'inherit'] })
    const acks: Crash['acks'] = []
    let maxDepth = 0
    let killedAt = 0
    let depth = 0
    let committed = 0
    const spawned = Date.now()
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`the child never reached ${minAcks} acks / ${minDepth} queued${minMs ? ' / a commit' : ''} (got ${acks.length} / ${maxDepth} / ${committed})`)) }, 90_000)
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (killedAt) return // after the kill: the parent saw nothing more
      const [kind, a, b, c] = line.split(' ')
      if (kind === 'ack') acks.push({ run: a!, task: b!, seq: Number(c) })
      else if (kind === 'depth') (depth = Number(a), committed = Math.max(committed, Number(b)))
      maxDepth = Math.max(maxDepth, depth)
      // killed while at least `minDepth` writes are queued
      if (acks.length >= minAcks && depth >= minDepth && Date.now() - spawned >= minMs && (minMs === 0 || committed > 0)) {
        killedAt = Date.now()
        child.kill('SIGKILL')
      }
    })
    child.on('exit', (_code, signal) => {
      clearTimeout(timer)
      if (signal !== 'SIGKILL') return reject(new Error(`the child exited by itself (${signal})`))
      resolve({ acks, killedAt, maxDepth, committed })
    })
  })
}

/** The acknowledged tasks that are not on disk as succeeded (one read per run). */
async function lostAcks(reader: Engine, acks: Crash['acks']): Promise<Crash['acks']> {
  const onDisk = new Map<string, Set<string>>()
  for (const run of new Set(acks.map((a) => a.run))) {
    onDisk.set(run, new Set(((await reader.getRun(run))?.tasks ?? []).filter((x) => x.status === 'succeeded').map((x) => x.task)))
  }
  return acks.filter(({ run, task }) => !onDisk.get(run)!.has(task))
}

/** `PRAGMA integrity_check` of a database a crash left behind. */
async function integrity(path: string): Promise<string> {
  const store = new DurableStore(parseStoreUrl(`sqlite:${path}`)!, { flushIntervalMs: 50, batchSize: 100, queueCapacity: 100, logger: silentLogger })
  try {
    return store.integrityCheck()
  } finally {
    await store.close()
  }
}

test('kill -9 in sync mode: nothing the child acknowledged is lost, and the database is intact', async (t) => {
  const path = dbPath()
  const crash = await crashChild(path, 'sync', 50, 3_000, 0)
  t.is(await integrity(path), 'ok')
  const reader = new Engine({ store: `sqlite:${path}` })
  const missing = await lostAcks(reader, crash.acks)
  t.deepEqual(missing, [], `${missing.length} of ${crash.acks.length} acknowledged tasks lost`)
  t.true((await reader.interruptedRuns()).length > 0, 'the runs the child left behind are listed as interrupted')
  await reader.close()
})

test('kill -9 in batched mode with 10,000 writes queued: only writes not yet committed are lost', async (t) => {
  const path = dbPath()
  const flushIntervalMs = 1_000
  const crash = await crashChild(path, 'batched', flushIntervalMs, 5_000, 10_000, 3 * flushIntervalMs)
  t.true(crash.maxDepth >= 10_000)
  t.is(await integrity(path), 'ok')
  const reader = new Engine({ store: `sqlite:${path}` })
  const lost = await lostAcks(reader, crash.acks)
  // what the store had committed when the child last said so is on disk, whatever the machine's load
  // (crashChild kills only after the child reported a commit: it fails when none comes)
  const committedLost = lost.filter((a) => a.seq <= crash.committed)
  t.deepEqual(committedLost, [], `${committedLost.length} writes the store had reported committed were lost`)
  t.true(lost.length < crash.acks.length, 'something was committed before the crash')
  await reader.close()
})

test('durable run ids are UUID v7: time-ordered, so the store appends', async (t) => {
  const ids = [uuidv7(1_700_000_000_000), uuidv7(1_700_000_000_001), uuidv7(1_800_000_000_000)]
  for (const id of ids) t.regex(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
  t.deepEqual([...ids].sort(), ids)
  t.is(ids[0]!.slice(0, 13), '018bcfe5-6800')
  const engine = new Engine({ store: `sqlite:${dbPath()}` }).action('step', async (n: number) => n + 1)
  const run = engine.start(chainWorkflow(engine, 1), 1)
  t.regex(run.id, /^[0-9a-f]{8}-[0-9a-f]{4}-7/)
  await run.result()
  await engine.close()
})

/** Runs exit-child.mjs; `signal` sends it one once it reports `done`. */
function exitChild(path: string, mode: 'exit' | 'signal', signal?: NodeJS.Signals): Promise<{ code: number | null; queued: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(fixtures, 'exit-child.mjs'), path, mode], { stdio: ['ignore', 'pipe', 'inherit'] })
    let queued = -1
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const [kind, n] = line.split(' ')
      if (kind !== 'done') return
      queued = Number(n)
      if (signal) child.kill(signal)
    })
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, queued })) // 'close': after stdout's last line ('exit' may come before it)
  })
}

test('a normal exit commits what is queued', async (t) => {
  const path = dbPath()
  const { code, queued } = await exitChild(path, 'exit')
  t.is(code, 0)
  t.true(queued > 100, `${queued} writes were still queued at the end`)
  const reader = new Engine({ store: `sqlite:${path}` })
  t.is((await reader.runs({ status: 'succeeded', limit: 100 })).length, 50)
  await reader.close()
})

test('handleSignals: SIGTERM and SIGINT flush, close and exit with 143 / 130', async (t) => {
  for (const [signal, expected] of [['SIGTERM', 143], ['SIGINT', 130]] as const) {
    const path = dbPath()
    const { code, queued } = await exitChild(path, 'signal', signal)
    t.is(code, expected)
    t.true(queued > 100, `${queued} writes were still queued at the signal`)
    const reader = new Engine({ store: `sqlite:${path}` })
    t.is((await reader.runs({ status: 'succeeded', limit: 100 })).length, 50, `after ${signal}`)
    await reader.close()
  }
})

test('a live run is read from memory, an ended one from the store, and both tell the same history', async (t) => {
  const engine = new Engine({ store: `sqlite:${dbPath()}` })
  let release!: () => void
  const gate = new Promise<void>((resolve) => (release = resolve))
  let calls = 0
  engine.action('flaky', async (_: unknown, ctx) => {
    ctx.log('trying', { call: calls + 1 })
    if (++calls === 1) throw new Error('first call fails')
    return 'ok'
  })
  engine.action('item', async (n: number) => n * 2)
  engine.action('wait', () => gate.then(() => 'released'))
  const wf = engine.workflow({
    name: 'mixed',
    tasks: {
      a: { action: 'flaky', retry: { count: 1, delay: '1ms' }, next: { do: 'b' } },
      b: { action: 'item', with: { items: [1, 2, 3] }, input: '{{ item }}', next: { do: 'c' } },
      c: { action: 'wait' },
    },
  })
  const run = engine.start(wf)
  while (!run.history().some((e) => e.type === 'task.started' && e.task === 'c')) await new Promise((r) => setTimeout(r, 1))
  const live = (await engine.getRun(run.id))!
  t.like(live, { live: true, status: 'running' })
  t.like(live.tasks.find((x) => x.task === 'c'), { status: 'running', attempt: 1 })
  t.deepEqual(engine.stats().cache, { hits: 1, misses: 0 })
  t.deepEqual(live.events.map((e) => [e.task, e.attempt, e.message, e.data]), [['a', 1, 'trying', { call: 1 }], ['a', 2, 'trying', { call: 2 }]])
  release()
  await run.result()
  const ended = (await engine.getRun(run.id))!
  t.like(ended, { live: false, status: 'succeeded' })
  t.deepEqual(engine.stats().cache, { hits: 1, misses: 1 })
  // the journal of events on disk is the one the run told live
  t.deepEqual(ended.events.map(({ at: _, ...e }) => e), live.events.map(({ at: _, ...e }) => e))
  // the journal on disk and the run's own events agree, execution by execution
  const shape = (x: { task: string; step: number; item?: number; attempt: number; status: string }): string => `${x.task}/${x.step}/${x.item ?? '-'}/${x.attempt}/${x.status}`
  t.deepEqual(ended.tasks.map(shape).sort(), executionsFromEvents(run.history()).map(shape).sort())
  t.deepEqual(ended.tasks.map(shape).sort(), ['a/1/-/1/retrying', 'a/1/-/2/succeeded', 'b/1/-/1/succeeded', 'b/1/0/1/succeeded', 'b/1/1/1/succeeded', 'b/1/2/1/succeeded', 'c/1/-/1/succeeded'])
  for (const x of ended.tasks) t.true(x.startedAt! <= x.endedAt!, `${shape(x)} has its times`)
  await engine.close()
})

// This test used to pin the bug of issue 17.5 (the run ended at once with an
// output the store did not have): a recorded end is now reported with its commit.
test('a timeout while a finished sync run waits on a store that cannot commit keeps its recorded output, reported once committed', async (t) => {
  const path = dbPath()
  // shared: the lock holder below is another process on the file
  const engine = new Engine({ store: `sqlite:${path}?locking=shared`, durability: 'sync' })
  engine.action('work', async () => 1)
  const wf = engine.workflow({ name: 'one', tasks: { t: { action: 'work' } }, output: '{{ tasks.t.result }}' })
  await engine.run(wf) // the database exists, in WAL mode
  // another process takes the write lock: the store's commits wait from now on
  const holder = spawn(process.execPath, [join(fixtures, 'lock-holder.cjs'), path], { stdio: ['pipe', 'pipe', 'inherit'] })
  await new Promise<void>((resolve) => createInterface({ input: holder.stdout! }).once('line', () => resolve()))
  const run = engine.start(wf, undefined, { timeout: 100 })
  let released = false
  const result = run.result().then((output) => ({ output, released }))
  await new Promise((resolve) => setTimeout(resolve, 400)) // past the run's timeout
  t.is(run.status, 'running', 'not reported before the commit')
  released = true
  holder.stdin!.end()
  await new Promise((resolve) => holder.on('exit', resolve))
  t.deepEqual(await result, { output: 1, released: true }, 'the outcome the core recorded, not a timeout, once committed')
  t.is(run.status, 'succeeded')
  await engine.close()
  const reader = new Engine({ store: `sqlite:${path}` })
  t.like(await reader.getRun(run.id), { status: 'succeeded', output: 1 })
  await reader.close()
})
