// Resume after a real crash (kill -9 of a child running a durable run) on
// SQLite (the scenario: scenarios/resume.ts), and what resume refuses.
import test from 'ava'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { Engine, ResumeError } from '../lib/index'
import { flowFile, registerActions, resumeAfterCrash } from './scenarios/resume'

const dbPath = (): string => join(mkdtempSync(join(tmpdir(), 'arcflow-resume-')), 'arcflow.db')

test('kill -9 mid-run in sync mode, then resume: the same output, nothing acknowledged runs again', (t) => resumeAfterCrash(t, `sqlite:${dbPath()}`, 'sync'))
test('kill -9 mid-run in batched mode, then resume: the same output, no committed task or item runs again', (t) => resumeAfterCrash(t, `sqlite:${dbPath()}`, 'batched'))

test('resume refuses clearly what it cannot resume', async (t) => {
  const path = dbPath()
  const engine = new Engine({ store: `sqlite:${path}` })
  registerActions(engine, { report: () => {}, hang: false })
  const wf = engine.load(flowFile)
  await engine.run(wf, { items: 3 }, { runId: 'done-1' })
  t.throws(() => engine.resume('nope'), { instanceOf: ResumeError, code: 'ARCFLOW_RESUME', message: /no run "nope"/ })
  t.throws(() => engine.resume('done-1'), { instanceOf: ResumeError, message: /has ended \(succeeded\)/ })
  const live = engine.start(wf, { items: 3 })
  t.throws(() => engine.resume(live.id), { instanceOf: ResumeError, message: /is running in this engine/ })
  await live.result()
  await engine.close()
  const memory = new Engine()
  t.throws(() => memory.resume('x'), { instanceOf: ResumeError, message: /no store/ })
})
