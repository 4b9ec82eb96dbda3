// Only the database's clock decides leases (issue 13): a worker process
// whose clock is an hour ahead or behind (`Date` patched by a preload,
// fixtures/queue/skewed-clock.cjs) works beside one with the machine's
// clock. While both hold runs for two leases, neither takes the
// other's over (a clock ahead would see live leases as expired; leases
// stamped by a clock behind would be expired at once); no run executes
// twice; once the normal worker is killed -9, the skewed one still takes
// its runs over after the lease (a clock behind would see them live for an
// hour) and finishes them. A keyed start in such a process claims its key
// by the database's clock too, and the task cache's entries it stores and
// reads expire by that clock.
// Limit: the preload skews JavaScript's clock only; the addon's own
// (`SystemTime` in the core) is the machine's, as the database's is here,
// so a time moved into the core's clock would not be caught by this test.
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { createInterface } from 'node:readline'

import test from 'ava'

import { Engine } from '../lib/index'
import { cacheSetup } from './scenarios/cache'
import { usePostgres } from './support/postgres'
import { startWorker, stopWorker, type Line, type WorkerProcess } from './support/workers'

const pg = usePostgres(test)
const skewedClock = join(__dirname, 'fixtures', 'queue', 'skewed-clock.cjs')
const HOUR = 3_600_000
// long enough that a renewal late under a loaded machine (renewals go every third of it) keeps it
const LEASE = 2_000
const schemaOf = (url: string): string => new URL(url).searchParams.get('schema')!

const started = (w: WorkerProcess, ids: Set<string>): string[] => w.lines.filter((l) => ids.has(l.started as string)).map((l) => l.started as string)
const events = (w: WorkerProcess, type: string): Line[] => w.lines.filter((l) => l.event === type)

for (const [label, skew] of [['an hour ahead', HOUR], ['an hour behind', -HOUR]] as const) {
  test.serial(`a worker whose clock is ${label} takes no lease early, runs nothing twice, and takes an expired one over`, async (t) => {
    const url = pg.url()
    const schema = schemaOf(url)
    const engine = new Engine({ store: url, flushIntervalMs: 10, handleSignals: false })
    t.teardown(() => engine.close())
    const normal = startWorker(url, { concurrency: 4, lease: LEASE, tag: 'n' })
    const skewed = startWorker(url, { concurrency: 4, lease: LEASE, tag: 's' }, {
      execArgv: ['--require', skewedClock],
      env: { ARCFLOW_TEST_CLOCK_SKEW_MS: String(skew) },
    })
    t.teardown(() => [normal, skewed].forEach((w) => w.process.kill('SIGKILL')))
    const [, ready] = await Promise.all([normal.waitFor((l) => 'ready' in l), skewed.waitFor((l) => 'ready' in l)])
    // the preload took: its clock is off by about the skew (a minute's slack: a sanity check, not a timing)
    t.true(Math.abs((ready.clock as number) - Date.now() - skew) < 60_000, `the skewed worker's clock says ${String(ready.clock)}`)

    // 1. both hold runs for two leases, renewing them: none is taken over
    const held = await Promise.all(Array.from({ length: 8 }, (_, i) => engine.enqueue('one', { i, hold: { n: 2 * LEASE, s: 2 * LEASE } }).then((r) => r.id)))
    const outputs = await Promise.all(held.map((id) => engine.result<{ input: { i: number } }>(id, { timeout: 60_000 })))
    t.deepEqual(outputs.map((o) => o.input.i), held.map((_, i) => i))
    const heldIds = new Set(held)
    const byNormal = started(normal, heldIds)
    const bySkewed = started(skewed, heldIds)
    t.true(byNormal.length > 0 && bySkewed.length > 0, `both workers held runs: ${byNormal.length} and ${bySkewed.length}`)
    t.is(byNormal.length + bySkewed.length, held.length, 'each run started once: none was taken over')
    t.deepEqual([...byNormal, ...bySkewed].sort(), [...held].sort())
    t.deepEqual([events(normal, 'run.lease_lost').length, events(skewed, 'run.lease_lost').length], [0, 0], 'no lease was lost (normal, skewed)')
    const epochs = await pg.cluster.sql(`select epoch, count(*) from runs where id in (${held.map((id) => `'${id}'`).join(', ')}) group by epoch`, schema)
    t.is(epochs, `1|${held.length}`, 'every run claimed once')

    // 2. the normal worker dies holding runs: the skewed one takes them over after the lease
    const doomed = await Promise.all(Array.from({ length: 8 }, (_, i) => engine.enqueue('one', { i, hold: { n: 600_000, s: 200 } }).then((r) => r.id)))
    const doomedIds = new Set(doomed)
    await normal.waitFor(() => started(normal, doomedIds).length > 0)
    normal.process.kill('SIGKILL')
    await normal.exited
    // what it started (a run it claimed but had not started yet is taken over too)
    const orphans = started(normal, doomedIds)
    const finished = await Promise.all(doomed.map((id) => engine.result<{ input: { i: number }; tag: string }>(id, { timeout: 60_000 })))
    t.deepEqual(finished.map((o) => o.tag), doomed.map(() => 's'), 'the skewed worker finished every run')
    const stats = await stopWorker(skewed)
    const epochs2 = await pg.cluster.sql(`select id from runs where epoch = 2 and id in (${doomed.map((id) => `'${id}'`).join(', ')}) order by id`, schema)
    const takenOver = epochs2.split('\n').filter(Boolean)
    t.is(stats.takenOver, takenOver.length, 'the skewed worker took over each run claimed twice')
    t.true(orphans.every((id) => takenOver.includes(id)), `each run the killed worker started was taken over: ${orphans.join(', ')}`)
    t.is(await pg.cluster.sql(`select count(*) from runs where epoch > 2 and id in (${doomed.map((id) => `'${id}'`).join(', ')})`, schema), '0', 'once each')
    // no task succeeded twice in any run
    t.is(await pg.cluster.sql("select count(*) from (select run_id from executions where status = 'succeeded' group by run_id, task having count(*) > 1) d", schema), '0')
    t.is(await pg.cluster.sql("select count(*) from runs where status <> 'succeeded'", schema), '0')
  })
}

// an idempotency key's claim stamped an hour early would read as an orphan
// (a claim whose run never reached the store) to every other process at once
test.serial('a keyed start in a process whose clock is an hour behind claims its key by the database\'s clock', async (t) => {
  const url = pg.url()
  const schema = schemaOf(url)
  const dbNow = async (): Promise<number> => Number(await pg.cluster.sql('select (extract(epoch from clock_timestamp()) * 1000)::bigint', schema))
  await new Engine({ store: url, handleSignals: false }).close() // the schema, migrated
  const child = spawn(process.execPath, ['--require', skewedClock, join(__dirname, 'fixtures', 'keyed-start-child.mjs'), url, 'order-9', '1'], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, ARCFLOW_TEST_CLOCK_SKEW_MS: String(-HOUR) },
  })
  t.teardown(() => void child.kill('SIGKILL'))
  const lines: string[] = []
  const reader = createInterface({ input: child.stdout! })
  const saw = (what: string): Promise<void> => new Promise((resolve) => {
    if (lines.includes(what)) return resolve()
    reader.on('line', (l) => l === what && resolve())
  })
  reader.on('line', (l) => lines.push(l))
  await saw('ready')
  const before = await dbNow()
  child.stdin!.write('go\n')
  await saw('done')
  child.stdin!.end()
  const after = await dbNow()
  t.true(lines.some((l) => l.startsWith('id ')), lines.join('\n'))
  const claimedAt = Number(await pg.cluster.sql("select claimed_at from start_keys where key = 'order-9'", schema))
  t.true(before <= claimedAt && claimedAt <= after, `claimed at ${claimedAt}, not within the database's ${before}..${after}`)
})

// an entry stored by a clock an hour behind would expire for everyone else
// at once; one read by a clock an hour ahead would look expired to it
for (const [label, skew] of [['an hour ahead', HOUR], ['an hour behind', -HOUR]] as const) {
  test.serial(`a process whose clock is ${label} shares the task cache by the database's clock`, async (t) => {
    const url = pg.url()
    const before = cacheSetup({ store: url }, '10m')
    t.is(await before.engine.run(before.wf, { doc: 'a' }), 'summary of a')
    await before.engine.close()
    const child = spawn(process.execPath, ['--require', skewedClock, join(__dirname, 'fixtures', 'cache-child.mjs'), url, 'a', 'b'], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, ARCFLOW_TEST_CLOCK_SKEW_MS: String(skew) },
    })
    t.teardown(() => void child.kill('SIGKILL'))
    let out = ''
    for await (const chunk of child.stdout!) out += String(chunk)
    const { calls, storeHits } = JSON.parse(out) as { calls: string[]; storeHits: number }
    t.deepEqual(calls, ['b'], 'it used the entry stored here ten minutes ago by the database\'s clock')
    t.is(storeHits, 1)
    const after = cacheSetup({ store: url }, '10m')
    t.teardown(() => after.engine.close())
    t.is(await after.engine.run(after.wf, { doc: 'b' }), 'summary of b')
    t.deepEqual(after.calls, [], 'the entry it stored is alive here')
  })
}
