// Queue behaviour across real processes on PostgreSQL (issue 13): 100
// concurrent enqueues with one key from 4 processes make one run; an idle
// worker whose safety poll is an hour away still starts another process's
// enqueues (the wake-up is the database's notice, not a poll).
import { join } from 'node:path'

import test from 'ava'

import { Engine } from '../lib/index'
import { usePostgres } from './support/postgres'
import { startChild, startWorker, stopWorker } from './support/workers'

const pg = usePostgres(test)
const enqueuer = join(__dirname, 'fixtures', 'queue', 'enqueue-child.mjs')
const schemaOf = (url: string): string => new URL(url).searchParams.get('schema')!

test.serial('100 concurrent enqueues with one key from 4 processes make one run', async (t) => {
  const url = pg.url()
  const children = Array.from({ length: 4 }, () => startChild(enqueuer, [url, 'order-42', '25']))
  t.teardown(() => children.forEach((c) => c.process.kill('SIGKILL')))
  await Promise.all(children.map((c) => c.waitFor((l) => 'ready' in l)))
  for (const c of children) c.process.kill('SIGUSR2')
  const lines = await Promise.all(children.map((c) => c.waitFor((l) => 'answers' in l || 'error' in l)))
  const answers = lines.flatMap((l) => {
    t.falsy(l.error, `an enqueue failed: ${String(l.error)}`)
    return (l.answers ?? []) as Array<{ id: string; created: boolean }>
  })
  t.is(answers.length, 100)
  t.is(new Set(answers.map((a) => a.id)).size, 1, 'every call answers the same run')
  t.is(answers.filter((a) => a.created).length, 1, 'exactly one call created it')
  const rows = await pg.cluster.sql(`select id from runs where run_key = 'order-42'`, schemaOf(url))
  t.deepEqual(rows.split('\n').filter(Boolean), [answers[0]!.id])
})

test.serial('an idle worker starts another process\'s enqueues with no safety poll', async (t) => {
  const url = pg.url()
  // an hour between safety polls: only a notice can wake it within the test
  const worker = startWorker(url, { concurrency: 4, safetyPollInterval: 3_600_000 })
  t.teardown(() => worker.process.kill('SIGKILL'))
  await worker.waitFor((l) => 'ready' in l)
  const engine = new Engine({ store: url, flushIntervalMs: 10, handleSignals: false })
  t.teardown(() => engine.close())
  // one after another: each finds the worker idle, past its first claim
  for (let i = 0; i < 3; i++) {
    const { id } = await engine.enqueue('one', { i })
    await worker.waitFor((l) => l.started === id)
    t.deepEqual(await engine.result(id, { timeout: 60_000 }), { input: { i }, tag: 'w' })
  }
  const stats = await stopWorker(worker)
  t.is(stats.polls, 0, 'no safety poll ran')
  t.is(stats.completed, 3)
})
