// Sub-workflows, the task cache and idempotent starts on a real PostgreSQL
// cluster (the scenarios of subflows-crash, task-cache and
// idempotent-start.spec.ts), one cluster for the file.
import test from 'ava'

import { cacheExpires, cacheShared } from './scenarios/cache'
import { failedKeyStartsNew, oneRunPerKey, oneRunPerKeyAcrossProcesses } from './scenarios/idempotency'
import { childNotRerun } from './scenarios/subflows'
import { usePostgres } from './support/postgres'

const pg = usePostgres(test)

test.serial('postgres: kill -9 during a child run, then resume: the completed child is not re-run, the interrupted one is resumed', (t) => childNotRerun(t, pg.url()))
test.serial('postgres: the cache is shared by two engines on one schema; cache.clear drops it for both', (t) => cacheShared(t, pg.url()))
test.serial('postgres: an expired entry is used by neither engine; a failure is not stored', (t) => cacheExpires(t, pg.url()))
test.serial('postgres: 1,000 concurrent starts with one key make exactly one run', (t) => oneRunPerKey(t, pg.url()))
test.serial('postgres: a failed run does not block a new one with its key', (t) => failedKeyStartsNew(t, pg.url()))
test.serial('postgres: 4 processes × 250 concurrent starts with one key make exactly one run, and every start answers it', (t) => oneRunPerKeyAcrossProcesses(t, pg.url()))
