// Issue 13, as stated: "4 workers, one account covering exactly N tasks:
// exactly N run, the balance never goes below 0, ledger and balance agree",
// with 4 real `engine.work` worker processes (fixtures/queue/worker-child.mjs,
// whose `step` action costs 1 and prints a line per execution) draining a
// queue of metered runs, on PostgreSQL and on a shared SQLite file. The
// producer keeps the queue fed until the account is spent (its balance and
// every lease row at 0), so more runs are enqueued than it covers and no
// credit is left stranded in a worker's block when the queue runs dry.
// While they drain, another process samples the database: the balance and
// every lease row never go below 0, and balance + Σ leases = Σ ledger in
// every sample. A variant kills one worker (kill -9) mid-drain: its unspent
// lease returns when its lease expires (set shorter than the runs' lease, so
// before its runs are taken over) and the totals still agree.
import test, { type ExecutionContext } from 'ava'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { Engine, InsufficientBalanceError, RunFailedError } from '../lib/index'
import { SqliteStoreForTests } from './helpers/sqlite'
import { usePostgres } from './support/postgres'
import { startWorker, stopWorker, type WorkerProcess } from './support/workers'

const pg = usePostgres(test)

/** One row of numbers from the store's database, read by another process than the workers. */
type Row = (sql: string) => Promise<number[]>

interface Backend {
  store: string
  row: Row
  /** The ledger's insertion order (PostgreSQL: `seq`; SQLite: `rowid`). */
  order: string
  close(): void
}

function sqliteBackend(): Backend {
  const path = join(mkdtempSync(join(tmpdir(), 'arcflow-credit-workers-')), 'arcflow.db')
  const store = `sqlite:${path}?locking=shared`
  let db: SqliteStoreForTests | undefined
  return {
    store,
    order: 'rowid',
    // opened on first use: the producer creates the file and its schema
    row: async (sql) => Object.values((db ??= new SqliteStoreForTests(path)).row(sql)).map(Number),
    close: () => db?.close(),
  }
}

function postgresBackend(): Backend {
  const schema = pg.freshSchema('cw')
  return {
    store: pg.url(schema),
    order: 'seq',
    row: async (sql) => (await pg.sql(sql, schema)).split('|').map(Number),
    close: () => {},
  }
}

const SAMPLE = `SELECT
  (SELECT balance FROM accounts WHERE id = 'acme'),
  (SELECT COALESCE(SUM(amount), 0) FROM credit_leases WHERE account = 'acme'),
  (SELECT COALESCE(MIN(amount), 0) FROM credit_leases WHERE account = 'acme'),
  (SELECT COALESCE(SUM(amount), 0) FROM ledger WHERE account = 'acme'),
  (SELECT COUNT(*) FROM runs WHERE status = 'queued'),
  (SELECT COUNT(*) FROM runs WHERE status IN ('succeeded', 'failed', 'cancelled'))`

interface Drain {
  ids: string[]
  /** Samples taken while some enqueued run had not ended (the invariants were checked mid-drain). */
  midDrain: number
  /** Samples where the balance, a lease row, or their sum was below 0, or balance + Σ leases ≠ Σ ledger. */
  bad: string[]
}

/** How many runs the producer may enqueue before the test gives up (the account was never spent). */
const RUNS_LIMIT = 20_000

/**
 * Feeds the queue (batches of 100, while fewer than 200 wait) until the
 * account is spent (balance and leases at 0: every credit charged and
 * committed), then waits for every run to end; samples the database all along.
 * `during(sample)` is awaited after each sample (the kill variant's hook).
 */
async function drain(producer: Engine, db: Backend, during: (queued: number) => Promise<void> = async () => {}): Promise<Drain> {
  const ids: string[] = []
  const bad: string[] = []
  let midDrain = 0
  let spent = false
  for (;;) {
    const [balance, leased, lowestLease, ledger, queued, ended] = await db.row(SAMPLE)
    if (ids.length > 0 && ended! < ids.length) midDrain++
    if (balance! < 0 || lowestLease! < 0 || balance! + leased! < 0 || balance! + leased! !== ledger) bad.push(`balance ${balance}, leases ${leased} (lowest ${lowestLease}), ledger ${ledger}`)
    spent ||= balance === 0 && leased === 0
    if (spent && ended === ids.length) return { ids, midDrain, bad }
    if (!spent && queued! < 200) {
      if (ids.length >= RUNS_LIMIT) throw new Error(`${ids.length} runs enqueued and the account is not spent: balance ${balance}, leases ${leased}`)
      ids.push(...(await producer.enqueueMany('one', Array.from({ length: 100 }, (_, k) => ({ i: ids.length + k })), { account: 'acme' })).map((r) => r.id))
    }
    await during(queued!)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

/** The run ids each line of `workers` says a `step` execution started for. */
const executions = (workers: WorkerProcess[]): string[] => workers.flatMap((w) => w.lines.filter((l) => 'started' in l).map((l) => l.started as string))

/** The checks both variants share, once the workers have stopped. */
async function totalsAgree(t: ExecutionContext, db: Backend, producer: Engine, n: number, { ids, midDrain, bad }: Drain): Promise<Set<string>> {
  t.true(ids.length > n, `more runs were enqueued (${ids.length}) than the account covers (${n})`)
  // a count, not a duration: a fast machine drains in a dozen samples
  t.true(midDrain >= 2, `the database was sampled while runs were draining (${midDrain} samples)`)
  t.deepEqual(bad, [], 'the balance and the leases never went below 0, and balance + leases = ledger in every sample')
  const outcomes = await Promise.allSettled(ids.map((id) => producer.result<{ input: { i: number } }>(id, { timeout: 60_000 })))
  const succeeded = new Set(ids.filter((_, k) => outcomes[k]!.status === 'fulfilled'))
  t.is(succeeded.size, n, 'exactly as many runs succeeded as the account covers')
  const refused = outcomes.filter((o) => o.status === 'rejected' && o.reason instanceof RunFailedError && o.reason.cause instanceof InsufficientBalanceError)
  t.is(refused.length, ids.length - n, 'every other run failed with RunFailedError caused by InsufficientBalanceError')
  const [charges, chargedRuns, charged, balance, leases, lowest] = await db.row(`SELECT
    (SELECT COUNT(*) FROM ledger WHERE kind = 'charge'),
    (SELECT COUNT(DISTINCT run_id) FROM ledger WHERE kind = 'charge'),
    (SELECT COALESCE(SUM(amount), 0) FROM ledger WHERE kind = 'charge'),
    (SELECT balance FROM accounts WHERE id = 'acme'),
    (SELECT COUNT(*) FROM credit_leases),
    (SELECT MIN(s) FROM (SELECT SUM(amount) OVER (ORDER BY ${db.order}) AS s FROM ledger WHERE account = 'acme') r)`)
  t.is(charges, n, 'exactly N charges')
  t.is(chargedRuns, n, 'one charge per succeeded run')
  t.is(charged, -n)
  t.is(balance, 0, 'the balance change equals the ledger sum: the account is spent, nothing more')
  t.is(leases, 0, 'no lease is left: the live workers gave theirs back, a dead one’s expired back to the balance')
  t.is(lowest, 0, 'the ledger’s running sum never went below 0 (it ends at 0)')
  return succeeded
}

async function fourWorkersOneAccount(t: ExecutionContext, db: Backend): Promise<void> {
  const n = 400
  const producer = new Engine({ store: db.store, flushIntervalMs: 10, handleSignals: false })
  producer.credit('acme', n, { key: 'opening' })
  await producer.flush()
  const workers = Array.from({ length: 4 }, () => startWorker(db.store, { concurrency: 16 }))
  t.teardown(() => workers.forEach((w) => w.process.kill('SIGKILL')))
  try {
    const drained = await drain(producer, db)
    const stats = await Promise.all(workers.map((w) => stopWorker(w)))
    t.is(stats.reduce((sum, s) => sum + (s.claimed as number), 0), drained.ids.length, 'every run was claimed once')
    t.true(stats.filter((s) => (s.claimed as number) > 0).length >= 2, `the workers shared the drain: ${JSON.stringify(stats.map((s) => s.claimed))}`)
    const succeeded = await totalsAgree(t, db, producer, n, drained)
    const ran = executions(workers)
    t.is(ran.length, n, 'exactly N task executions across the four workers')
    t.deepEqual([...new Set(ran)].sort(), [...succeeded].sort(), 'each succeeded run’s task ran once; no refused run’s task ran')
  } finally {
    await producer.close()
    db.close()
  }
}

async function aWorkerKilledMidDrain(t: ExecutionContext, db: Backend): Promise<void> {
  const n = 400
  const producer = new Engine({ store: db.store, flushIntervalMs: 10, handleSignals: false })
  producer.credit('acme', n, { key: 'opening' })
  await producer.flush()
  // the credit lease under half the runs' lease (the database keeps a credit lease twice its length): a dead worker's credit is back before its runs are taken over
  const options = { concurrency: 8, lease: 3_000, hold: 40, engine: { metering: { leaseMs: 1_000 } } }
  const doomed = startWorker(db.store, options)
  const survivors = Array.from({ length: 3 }, () => startWorker(db.store, options))
  t.teardown(() => [doomed, ...survivors].forEach((w) => w.process.kill('SIGKILL')))
  // its lease row: the owner id holds its pid (`host/pid/n/nanos`)
  const deadLease = `SELECT COUNT(*), COALESCE(SUM(amount), 0) FROM credit_leases WHERE owner LIKE '%/${doomed.process.pid}/%'`
  let killed: number | undefined
  try {
    const drained = await drain(producer, db, async () => {
      // killed early, while it surely holds runs and credit: on a fast machine the whole drain takes under a second
      if (killed !== undefined || executions([doomed]).length < 5) return
      const [rows, amount] = await db.row(deadLease)
      if (rows === 0 || amount! < 1) return // not holding credit right now: next sample
      doomed.process.kill('SIGKILL')
      await doomed.exited
      killed = (await db.row(deadLease))[1]
    })
    t.true(killed !== undefined && killed > 0, `the worker was killed holding unspent credit (${killed})`)
    t.deepEqual(await db.row(deadLease), [0, 0], 'the dead worker’s lease row is gone: returned at its expiry, not at a close')
    const stats = await Promise.all(survivors.map((w) => stopWorker(w)))
    t.true(stats.some((s) => (s.takenOver as number) > 0), `the survivors took the dead worker’s runs over: ${JSON.stringify(stats)}`)
    const succeeded = await totalsAgree(t, db, producer, n, drained)
    // a task runs again only when the killed worker had started it (its attempt died with it, never billed)
    const ranDoomed = new Set(executions([doomed]))
    const ran = executions(survivors)
    t.true([...new Set(ran)].every((id) => succeeded.has(id)), 'no refused run’s task ran')
    t.true([...succeeded].every((id) => ran.includes(id) || ranDoomed.has(id)), 'each succeeded run’s task ran')
    t.is(new Set(ran).size, ran.length, 'no task ran twice among the survivors')
  } finally {
    await producer.close()
    db.close()
  }
}

test.serial('4 engine.work workers on PostgreSQL drain metered runs of one account covering exactly 400 tasks: exactly 400 run and are charged, the rest fail for their balance, the balance never goes below 0, ledger and balance agree', async (t) => {
  await fourWorkersOneAccount(t, postgresBackend())
})

test.serial('4 engine.work workers on one SQLite file (?locking=shared): the same', async (t) => {
  await fourWorkersOneAccount(t, sqliteBackend())
})

test.serial('kill -9 of a worker mid-drain on PostgreSQL: its leased credit returns, the others take its runs over, and exactly 400 tasks are still charged', async (t) => {
  await aWorkerKilledMidDrain(t, postgresBackend())
})

test.serial('kill -9 of a worker mid-drain on a shared SQLite file: the same', async (t) => {
  await aWorkerKilledMidDrain(t, sqliteBackend())
})
