// The engine on a real PostgreSQL gives what it gives on SQLite: the same
// history reads (getRun, runs and their filters, events, ledger, balances)
// for the same runs in each durability mode, snapshots and journal rows in
// the database, metering, and a password that never shows.
import test from 'ava'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { Engine, StoreError } from '../lib/index'
import { history, RUN_IDS } from './scenarios/history'
import { exactlyCovered } from './scenarios/metering'
import { usePostgres } from './support/postgres'

const pg = usePostgres(test)
// shared, like PostgreSQL: both lease credit (a file this process holds owns its
// balances, and refuses an uncovered attempt before journaling its input)
const sqlite = (): string => `sqlite:${join(mkdtempSync(join(tmpdir(), 'arcflow-pgcmp-')), 'arcflow.db')}?locking=shared`

for (const durability of ['batched', 'sync'] as const) {
  test(`${durability}: the history read back from PostgreSQL equals SQLite's for the same runs`, async (t) => {
    const schema = pg.freshSchema(durability)
    const onPostgres = await history(pg.url(schema), durability)
    const onSqlite = await history(sqlite(), durability)
    t.deepEqual(onPostgres, onSqlite)
    // not two empty answers: every run is there, with its tasks, journal and charges
    t.deepEqual(onPostgres['runs'], [...RUN_IDS].sort())
    t.deepEqual(onPostgres['runs failed'], ['h-broke', 'h-failed'])
    t.like(onPostgres['getRun h-chain-2'], { status: 'succeeded', output: 12, live: false })
    t.like(onPostgres['getRun h-loop'], { status: 'succeeded', output: 30 })
    const chain = onPostgres['getRun h-chain-1'] as { tasks: unknown[]; events: Array<{ kind: string; message: string }> }
    t.is(chain.tasks.length, 2)
    t.deepEqual(chain.events.map((e) => e.message), ['step 1', 'step 2'])
    t.is(onPostgres['balance acme'], 100 - 2 * 2)
    t.is((onPostgres['ledger acme'] as unknown[]).length, 3)
    // and in the database's own tables
    t.is(await pg.sql("select count(*) from runs where status = 'succeeded'", schema), '5')
    t.is(await pg.sql("select count(*) from events where kind = 'task.log'", schema), '4')
    t.true(Number(await pg.sql('select count(*) from snapshots', schema)) > 0, 'snapshots were written (snapshotEvery: 2)')
    t.is(await pg.sql("select balance from accounts where id = 'acme'", schema), '96')
  })
}

test("none: PostgreSQL, like SQLite, keeps no run of an engine whose durability is 'none'", async (t) => {
  const schema = pg.freshSchema('none')
  const onPostgres = await history(pg.url(schema), 'none')
  t.deepEqual(onPostgres, await history(sqlite(), 'none'))
  t.is(await pg.sql('select count(*) from runs', schema), String((onPostgres['runs'] as unknown[]).length))
})

test('metering on PostgreSQL: 1,000 concurrent runs on an account that covers 300 tasks run exactly 300; ledger and balance agree in the database', async (t) => {
  const schema = pg.freshSchema('meter')
  await exactlyCovered(t, pg.url(schema))
  t.is(await pg.sql("select balance from accounts where id = 'acme'", schema), '0')
  t.is(await pg.sql("select count(*) from ledger where kind = 'charge'", schema), '300')
  t.is(await pg.sql('select sum(amount) from ledger', schema), '0')
})

test('engines of a process on one PostgreSQL URL share one store, however the URL is written', async (t) => {
  const schema = pg.freshSchema('shared')
  const a = new Engine({ store: `postgres://postgres@127.0.0.1:${pg.port}/postgres?schema=${schema}`, flushIntervalMs: 30, handleSignals: false })
  const b = new Engine({ store: `postgresql://postgres@127.0.0.1:${pg.port}/postgres?schema=${schema}`, flushIntervalMs: 30, handleSignals: false })
  // one store: options differing from the open one's are refused
  t.throws(() => new Engine({ store: `postgres://postgres@127.0.0.1:${pg.port}/postgres?schema=${schema}`, flushIntervalMs: 31, handleSignals: false }), { instanceOf: TypeError, message: /another engine has this store open/ })
  t.not(a.stats().store, null)
  t.is(a.stats().store!.enqueued, b.stats().store!.enqueued)
  a.action('one', async () => 1)
  await a.run(a.workflow({ name: 'one', tasks: { t: { action: 'one' } } }), null, { runId: 'shared-1' })
  t.is(a.stats().store!.enqueued, b.stats().store!.enqueued, 'the writes of one are the queue of the other')
  t.like(await b.getRun('shared-1'), { status: 'succeeded' })
  await a.close()
  await b.close()
})

test('the password of a PostgreSQL URL is in no error message', (t) => {
  const secret = 'hunter2-secret'
  // nothing listens on port 1: refused at open
  const refused = t.throws(() => new Engine({ store: `postgres://app:${secret}@127.0.0.1:1/db`, handleSignals: false }), { instanceOf: StoreError, code: 'ARCFLOW_STORE' })
  t.false(JSON.stringify({ message: refused?.message, cause: String(refused?.cause) }).includes(secret), refused?.message)
  const invalid = t.throws(() => new Engine({ store: `postgres://app:${secret}@[bad/db`, handleSignals: false }), { instanceOf: StoreError })
  t.false(invalid!.message.includes(secret), invalid!.message)
  const schema = t.throws(() => new Engine({ store: `postgres://app:${secret}@127.0.0.1:${pg.port}/postgres?schema=a-b`, handleSignals: false }))
  t.regex(schema!.message, /schema/)
  t.false(schema!.message.includes(secret), schema!.message)
})
