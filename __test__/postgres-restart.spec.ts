// PostgreSQL restarted (pg_ctl restart) and stopped for seconds under load,
// with a `sync` and a `batched` engine writing: the flush thread retries
// with backoff, stats().store.failing says why (without the URL's
// password), the store reconnects by itself, nothing acknowledged is lost
// (counted in the database afterwards) and the queue stays within its bounds.
import test from 'ava'
import { setTimeout as sleep } from 'node:timers/promises'

import { Engine } from '../lib/index'
import { usePostgres } from './support/postgres'

const pg = usePostgres(test)
const PASSWORD = 'pw-never-shown-7f3a'
const QUEUE = 2_000
const BATCH = 500
const LOOPS = 16

interface Load {
  /** Runs whose result() resolved: acknowledged. */
  readonly acked: Set<string>
  /** Resolves once every loop has ended (after `stop`). */
  stop(): Promise<void>
}

/** `loops` loops each starting one 3-task run after another, until stopped. */
function load(engine: Engine, loops: number): Load {
  engine.action('step', async (n: number) => n + 1)
  const chain = engine.workflow({
    name: 'chain',
    tasks: { a: { action: 'step', input: '{{ input }}', next: { do: 'b' } }, b: { action: 'step', input: '{{ tasks.a.result }}', next: { do: 'c' } }, c: { action: 'step', input: '{{ tasks.b.result }}' } },
    output: '{{ tasks.c.result }}',
  })
  const acked = new Set<string>()
  let running = true
  const loop = async (): Promise<void> => {
    while (running) {
      const run = engine.start(chain, 0)
      if ((await run.result()) === 3) acked.add(run.id)
      await new Promise((resolve) => setImmediate(resolve))
    }
  }
  const all = Promise.all(Array.from({ length: loops }, loop))
  return { acked, stop: async () => { running = false; await all } }
}

/** Samples the store's stats until `until` resolves: the failures seen, the largest queue. */
async function watch(engine: Engine, until: Promise<void>): Promise<{ failing: Set<string>; maxDepth: number }> {
  const failing = new Set<string>()
  let maxDepth = 0
  let done = false
  void until.then(() => (done = true))
  while (!done) {
    const stats = engine.stats().store!
    if (stats.failing) failing.add(stats.failing)
    maxDepth = Math.max(maxDepth, stats.queueDepth)
    await sleep(20)
  }
  return { failing, maxDepth }
}

/** Waits (bounded) until the engine has acknowledged `more` runs beyond what it had. */
async function progresses(acked: Set<string>, more: number): Promise<void> {
  const target = acked.size + more
  for (let i = 0; i < 3_000 && acked.size < target; i++) await sleep(10)
  if (acked.size < target) throw new Error(`no progress: ${acked.size} of ${target} runs acknowledged`)
}

for (const durability of ['sync', 'batched'] as const) {
  test.serial(`${durability}: a restart and a 3 s stop under load: retried, reported, reconnected, nothing acknowledged lost, queue bounded`, async (t) => {
    const schema = pg.freshSchema(durability)
    const url = pg.url(schema).replace('postgres@', `postgres:${PASSWORD}@`) // trust auth: the password is only there to be hidden
    const engine = new Engine({ store: url, durability, flushIntervalMs: 20, batchSize: BATCH, queueCapacity: QUEUE })
    const work = load(engine, LOOPS)
    await progresses(work.acked, 200)

    const first = [...work.acked][0]!
    t.like(await engine.getRun(first), { status: 'succeeded' }) // the reader's connection is open
    const outage = (async () => {
      await pg.restart()
      // the first read after a restart finds its connection broken: it reconnects, not fails
      t.like(await engine.getRun(first), { status: 'succeeded', output: 3 })
      await progresses(work.acked, 200) // reconnected by itself after the restart
      const before = engine.stats().store!.retries
      await pg.stop()
      await sleep(3_000)
      t.true(engine.stats().store!.retries > before, 'writes were retried while the server was down')
      const down = engine.stats().store!
      t.truthy(down.failing, 'failing says why while the server is down')
      t.false(down.permanent)
      await pg.start()
      await progresses(work.acked, 200)
    })()
    const seen = await watch(engine, outage)
    await outage
    await work.stop()
    await engine.close()

    t.true(seen.failing.size > 0)
    for (const why of seen.failing) t.false(why.includes(PASSWORD), `the password is in failing: ${why}`)
    // a batched engine outruns a server that is down: the queue fills, then runs wait
    if (durability === 'batched') t.true(seen.maxDepth >= QUEUE, `the queue filled up: ${seen.maxDepth}`)
    // bounded: capacity, plus the batch in flight, plus the writes of one native call per live run
    t.true(seen.maxDepth <= QUEUE + BATCH + LOOPS * 8, `the queue stayed bounded: ${seen.maxDepth} of ${QUEUE}`)
    const stats = engine.stats().store!
    t.is(stats.rejected, 0)
    t.is(stats.committed, stats.enqueued)

    // every acknowledged run is in the database, ended and with its three tasks
    const ids = [...work.acked]
    const rows = await pg.sql(`select count(*) from runs where status = 'succeeded' and output = '3'`, schema)
    t.is(Number(rows), ids.length)
    const tasks = await pg.sql(`select count(*) from executions where status = 'succeeded'`, schema)
    t.is(Number(tasks), ids.length * 3)
    const reader = new Engine({ store: url })
    const sample = ids.filter((_, i) => i % Math.ceil(ids.length / 50) === 0)
    for (const id of sample) t.like(await reader.getRun(id), { status: 'succeeded', output: 3 })
    await reader.close()
  })
}
