// kill -9 inside a durable retry delay (a task's, an item's), then resume, on a real PostgreSQL cluster (scenarios/retries.ts).
import test from 'ava'

import { itemRetryKeepsItsDelay, retryKeepsItsDelay } from './scenarios/retries'
import { usePostgres } from './support/postgres'

const pg = usePostgres(test)

test.serial('postgres: kill -9 inside a long retry delay, resume: the retry waits only for what is left of it', (t) => retryKeepsItsDelay(t, pg.url()))

test.serial("postgres: kill -9 inside a with-items item's long retry delay, resume: the item retries at its original due time", (t) => itemRetryKeepsItsDelay(t, pg.url()))
