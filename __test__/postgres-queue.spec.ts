// Queues and workers on PostgreSQL (scenarios/queue.ts), on a throwaway
// cluster: cross-process wake-ups are the database's notices.
import test from 'ava'

import { Engine } from '../lib/index'
import { queueScenarios } from './scenarios/queue'
import { usePostgres } from './support/postgres'
import { startWorker, stopWorker } from './support/workers'

const pg = usePostgres(test)

queueScenarios(test, () => pg.url(), 'postgres')

// A claim's answer embeds each run's input as JSON (lib/queue/native.ts): a
// stored input that is not JSON must fail its own run, not the claim.
test('postgres: a run whose stored input is not JSON fails alone with its error recorded; the run claimed with it goes on', async (t) => {
  const schema = pg.freshSchema()
  const url = pg.url(schema)
  const engine = new Engine({ store: url, flushIntervalMs: 10, handleSignals: false })
  t.teardown(() => engine.close())
  const bad = await engine.enqueue('one', { x: 1 })
  const fine = await engine.enqueue('one', { x: 2 })
  // a row changed by hand
  await pg.sql(`UPDATE runs SET input = 'not json {' WHERE id = '${bad.id}'`, schema)
  const worker = startWorker(url, {})
  t.teardown(() => void worker.process.kill('SIGKILL'))
  t.deepEqual(await engine.result(fine.id, { timeout: 30_000 }), { input: { x: 2 }, tag: 'w' })
  // the store cannot read that run's record back (its input is not JSON): its row says how it ended
  const row = `SELECT status || ' ' || (error::json->>'name') FROM runs WHERE id = '${bad.id}'`
  let ended = await pg.sql(row, schema)
  for (let n = 0; n < 300 && ended !== 'failed SyntaxError'; n++) {
    await new Promise((resolve) => setTimeout(resolve, 100))
    ended = await pg.sql(row, schema)
  }
  t.is(ended, 'failed SyntaxError')
  await stopWorker(worker)
})
