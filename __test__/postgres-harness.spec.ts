// The test PostgreSQL harness itself: a cluster that answers, survives a
// restart and a stop/start on the same port, and is gone afterwards.
import test from 'ava'
import { existsSync } from 'node:fs'

import { usePostgres } from './support/postgres'

const pg = usePostgres(test)

test.serial('the cluster answers SQL, in a schema of its own per url', async (t) => {
  t.is(await pg.sql('select 1 + 1'), '2')
  const a = pg.url()
  const b = pg.url()
  t.not(a, b)
  t.regex(a, /^postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres\?schema=t_\d+_\d+$/)
})

test.serial('restart and stop/start bring the server back on the same port', async (t) => {
  await pg.sql('create table kept (n int); insert into kept values (7)')
  await pg.restart()
  t.is(await pg.sql('select n from kept'), '7')
  await pg.stop()
  await t.throwsAsync(pg.sql('select 1'), { message: /psql/ })
  await pg.start()
  t.is(await pg.sql('select n from kept'), '7')
  t.true(existsSync(pg.cluster.dir))
})
