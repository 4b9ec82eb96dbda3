// Queues and workers on SQLite (scenarios/queue.ts): producers and worker
// processes on one file; across processes, wake-up is the documented poll.
import test from 'ava'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { queueScenarios } from './scenarios/queue'

// several processes on one file: `locking=shared` (the default, exclusive, holds the file for one process)
queueScenarios(test, () => `sqlite:${join(mkdtempSync(join(tmpdir(), 'arcflow-queue-')), 'q.db')}?locking=shared`, 'sqlite')
