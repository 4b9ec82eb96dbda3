// Queues and workers on PostgreSQL (scenarios/queue.ts), on a throwaway
// cluster: cross-process wake-ups are the database's notices.
import test from 'ava'

import { queueScenarios } from './scenarios/queue'
import { usePostgres } from './support/postgres'

const pg = usePostgres(test)

queueScenarios(test, () => pg.url(), 'postgres')
