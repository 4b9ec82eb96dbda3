// Resume after a real kill -9 of a child running a workflow on PostgreSQL:
// the scenario of resume.spec.ts (scenarios/resume.ts), on a real cluster.
import test from 'ava'

import { resumeAfterCrash } from './scenarios/resume'
import { usePostgres } from './support/postgres'

const pg = usePostgres(test)

test('postgres: kill -9 mid-run in sync mode, then resume: the same output, nothing acknowledged runs again', (t) => resumeAfterCrash(t, pg.url(), 'sync'))
test('postgres: kill -9 mid-run in batched mode, then resume: the same output, no committed task or item runs again', (t) => resumeAfterCrash(t, pg.url(), 'batched'))
