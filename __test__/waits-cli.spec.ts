// `arcflow runs signal RUN_ID NAME --data JSON|@file` against a run a crash
// left waiting: the signal is kept in the store and taken at the resume.
import test from 'ava'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'

import { crashWhileWaiting, dbUrl, resumer } from './scenarios/waits'
// @ts-expect-error a plain .mjs fixture
import { waitFlow } from './fixtures/wait-flow.mjs'
import { arcflow, workdir } from './support/cli'

test('runs signal --data @file reaches a run no process holds; an unknown run or bad JSON exits non-zero', async (t) => {
  const store = dbUrl()
  const { runId } = await crashWhileWaiting(store, 'wait')
  const cwd = workdir('arcflow-waits-cli-')
  writeFileSync(join(cwd, 'answer.json'), '{"ok":"from a file"}')
  const sent = await arcflow(['runs', 'signal', runId, 'approval', '--data', '@answer.json', '--store', store], cwd)
  t.is(sent.code, 0, sent.stderr)
  t.regex(sent.stdout, /signal 'approval' sent to run/)
  const unknown = await arcflow(['runs', 'signal', 'nope', 'approval', '--data', '1', '--store', store], cwd)
  t.not(unknown.code, 0)
  t.regex(unknown.stderr, /no run "nope"/)
  const bad = await arcflow(['runs', 'signal', runId, 'approval', '--data', '{oops', '--store', store], cwd)
  t.is(bad.code, 2)
  t.regex(bad.stderr, /--data must be JSON text or @FILE/)
  const { engine } = resumer(store)
  engine.workflow(waitFlow('wait', 60_000))
  t.deepEqual(await engine.resume(runId).result(), { got: { ok: 'from a file' } })
  await engine.close()
})
