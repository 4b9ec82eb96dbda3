// Metering across processes (issue 13, issue 17.17): engines of several
// processes on one store lease blocks of an account's credit from it
// (`crates/arcflow-core/src/meter/lease.rs`), so that together they never
// spend more than the balance, while each reservation stays in memory.
import test, { type ExecutionContext } from 'ava'
import { execFile } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'

import { Engine } from '../lib/index'
import { SqliteStoreForTests } from './helpers/sqlite'
import { usePostgres } from './support/postgres'

const run = promisify(execFile)
const dbPath = (): string => join(mkdtempSync(join(tmpdir(), 'arcflow-credit-')), 'arcflow.db')
const worker = join(__dirname, 'fixtures', 'credit-worker.mjs')
const pg = usePostgres(test)

interface WorkerReport {
  ran: number
  succeeded: number
  refused: number
  credit: { grants: number; blocking: number; refused: number; returns: number } | null
}

async function fund(store: string, account: string, amount: number): Promise<void> {
  const engine = new Engine({ store, handleSignals: false })
  engine.credit(account, amount, { key: `fund-${account}-${amount}` })
  await engine.close()
}

/** Reads one number from the store's database, behind the engines' back. */
type Read = (sql: string) => Promise<number>

/**
 * 4 worker processes on `store`, one account covering exactly `n` tasks of
 * cost 1; each tries all `n` (four times what it covers), while the
 * account's balance row is sampled.
 */
async function fourProcessesShareOneAccount(t: ExecutionContext, store: string, read: Read): Promise<void> {
  const n = 1_000
  await fund(store, 'acme', n)
  let samples = 0
  let lowest = Infinity
  let sampling = true
  const sampler = (async () => {
    while (sampling) {
      lowest = Math.min(lowest, await read("SELECT balance FROM accounts WHERE id = 'acme'"))
      samples++
      await new Promise((resolve) => setTimeout(resolve, 2))
    }
  })()
  const reports = (await Promise.all(Array.from({ length: 4 }, () => run(process.execPath, [worker, store, 'acme', String(n)], { maxBuffer: 1 << 20 }))))
    .map(({ stdout }) => JSON.parse(stdout) as WorkerReport)
  sampling = false
  await sampler
  t.is(reports.reduce((sum, r) => sum + r.ran, 0), n, 'exactly as many tasks ran as the account covers, across the four')
  t.is(reports.reduce((sum, r) => sum + r.succeeded, 0), n)
  t.is(reports.reduce((sum, r) => sum + r.refused, 0), 3 * n, 'every other run was refused for its balance')
  t.true(samples > 10, `the balance was sampled during the run (${samples})`)
  t.true(lowest >= 0, `the balance never went below 0 (lowest ${lowest})`)
  for (const report of reports) {
    t.truthy(report.credit, 'a meter on a shared store leases')
    const calls = report.credit!.grants + report.credit!.refused
    const reservations = report.ran + report.refused
    // far fewer database calls than reservations: one block covers many
    // tasks, and a burst refused on an empty account asks about once
    t.true(calls * 10 <= reservations, `${calls} lease calls for ${reservations} reservations`)
  }
  t.is(await read("SELECT balance FROM accounts WHERE id = 'acme'"), 0)
  t.is(await read('SELECT SUM(amount) FROM ledger'), 0, 'the ledger sums to the balance')
  t.is(await read("SELECT COUNT(*) FROM ledger WHERE kind = 'charge'"), n)
  t.is(await read('SELECT COUNT(*) FROM credit_leases'), 0, 'every lease was given back at close')
}

test('4 processes on one SQLite file share an account covering exactly 1,000 tasks: exactly 1,000 run, the balance never goes below 0, ledger and balance agree', async (t) => {
  const path = dbPath()
  const store = `sqlite:${path}?locking=shared`
  await fund(store, 'acme', 0) // the file and its schema, for the reader
  const db = new SqliteStoreForTests(path)
  try {
    await fourProcessesShareOneAccount(t, store, async (sql) => Number(db.value(sql)))
  } finally {
    db.close()
  }
})

test('4 processes on one PostgreSQL schema share an account covering exactly 1,000 tasks: the same', async (t) => {
  const schema = pg.freshSchema('credit')
  await fourProcessesShareOneAccount(t, pg.url(schema), async (sql) => Number(await pg.sql(sql, schema)))
})

test('an engine alone on a shared SQLite file (?locking=shared): its reservations take a handful of lease calls, not one per task, and the balance is right throughout', async (t) => {
  const path = dbPath()
  const store = `sqlite:${path}?locking=shared`
  const engine = new Engine({ store, handleSignals: false })
  engine.action('work', async (n: number) => n, { cost: 2 })
  const wf = engine.workflow({ name: 'one', tasks: { t: { action: 'work', input: '{{ input }}' } }, output: '{{ tasks.t.result }}' })
  engine.credit('acme', 20_000, { key: 'opening' })
  for (let batch = 0; batch < 10; batch++) {
    await Promise.all(Array.from({ length: 500 }, (_, i) => engine.start(wf, i, { account: 'acme' }).result()))
    t.is(engine.balance('acme'), 20_000 - 2 * 500 * (batch + 1), 'the balance: the database, the leases and this block, less what ran')
  }
  const credit = engine.stats().credit!
  t.true(credit.grants + credit.refused <= 50, `5,000 reservations, ${credit.grants + credit.refused} lease calls`)
  t.true(credit.blocking <= 20, `${credit.blocking} of them blocking`)
  await engine.close()
  const db = new SqliteStoreForTests(path)
  t.is(db.value("SELECT balance FROM accounts WHERE id = 'acme'"), 10_000)
  t.is(db.value('SELECT COUNT(*) FROM credit_leases'), 0)
  db.close()
})

test('an engine on a file it holds (the default, locking=exclusive) owns its balances: no leases, no lease calls', async (t) => {
  const path = dbPath()
  const engine = new Engine({ store: `sqlite:${path}`, handleSignals: false })
  engine.action('work', async (n: number) => n, { cost: 1 })
  const wf = engine.workflow({ name: 'one', tasks: { t: { action: 'work', input: '{{ input }}' } }, output: '{{ tasks.t.result }}' })
  engine.credit('acme', 10, { key: 'opening' })
  await engine.start(wf, 1, { account: 'acme' }).result()
  t.is(engine.balance('acme'), 9)
  t.is(engine.stats().credit, null)
  await engine.close()
})
