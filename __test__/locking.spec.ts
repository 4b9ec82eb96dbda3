// Who may open a SQLite file (issue 17.7): by default (`locking=exclusive`)
// the process that opened it, and another process is told so with a
// `StoreHeldError`, by the engine and by the CLI, while the holder goes on
// losing nothing; with `?locking=shared` in every process, several share it.
// The other process is a real child process.
import test from 'ava'
import { execFile } from 'node:child_process'
import { existsSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'

import { Engine, type Run } from '../lib/index'
import { arcflow } from './support/cli'

const dbPath = (): string => join(mkdtempSync(join(tmpdir(), 'arcflow-locking-')), 'arcflow.db')

interface ChildSaid {
  ids?: string[]
  total?: number
  error?: { name: string; code: string; message: string; path: string; storeError: boolean }
}

/** `fixtures/locking-child.mjs` in another process: opens `url`, runs `runs` runs. */
async function otherProcess(url: string, runs: number): Promise<ChildSaid> {
  const { stdout } = await promisify(execFile)(process.execPath, [join(__dirname, 'fixtures', 'locking-child.mjs'), url, String(runs)])
  return JSON.parse(stdout) as ChildSaid
}

function engineOn(url: string): { engine: Engine; start: (n: number) => Run } {
  const engine = new Engine({ store: url, durability: 'sync', handleSignals: false })
  engine.action('step', async (n: number) => n + 1)
  const wf = engine.workflow({ name: 'here', tasks: { t: { action: 'step', input: '{{ input }}' } }, output: '{{ tasks.t.result }}' })
  return { engine, start: (n) => engine.start(wf, n) }
}

/** Runs one after another until `until` settles: what the holder does while another process knocks. */
async function keepRunning(start: (n: number) => Run, until: Promise<unknown>): Promise<string[]> {
  let done = false
  void until.finally(() => (done = true))
  const ids: string[] = []
  while (!done) {
    const run = start(ids.length)
    if ((await run.result()) === ids.length + 1) ids.push(run.id)
  }
  return ids
}

test('a second process opening a file held by the default store URL gets a StoreHeldError, from the engine and the CLI, and the holder loses nothing', async (t) => {
  const path = dbPath()
  const url = `sqlite:${path}`
  const { engine, start } = engineOn(url)
  await start(0).result()
  const out = join(path, '..', 'report.html')
  // the engine, `runs list` and `report` of other processes, at once (each waits the 5 s lock wait)
  const knocks = Promise.all([
    otherProcess(url, 3),
    arcflow(['runs', 'list', '--store', url], join(path, '..')),
    arcflow(['report', 'some-run', '--out', out, '--store', url], join(path, '..')),
  ])
  const during = await keepRunning(start, knocks)
  const [child, list, report] = await knocks

  t.like(child.error, { name: 'StoreHeldError', code: 'ARCFLOW_STORE_HELD', path, storeError: true })
  t.regex(child.error!.message, /held by another process/)
  t.true(child.error!.message.includes(`sqlite:${path}?locking=shared`), child.error!.message)
  for (const cli of [list, report]) {
    t.is(cli.code, 1, cli.stderr)
    t.regex(cli.stderr, /^arcflow: store: the database file .* is held by another process: .*\?locking=shared/)
    t.notRegex(cli.stderr, /\n\s+at /, 'a message, not a stack')
    t.is(cli.stdout, '')
  }
  t.false(existsSync(out), 'no report written')

  // the holder went on meanwhile, and has every run it acknowledged, none of theirs
  t.true(during.length > 0)
  t.is(engine.stats().store!.failing, null)
  await engine.close()
  t.false(existsSync(`${path}-shm`), 'no shared-memory file was mapped')
  const reader = new Engine({ store: url, handleSignals: false })
  const runs = await reader.runs({ limit: 100_000 })
  t.is(runs.length, 1 + during.length)
  t.true(runs.every((run) => run.status === 'succeeded' && run.workflow === 'here'))
  await reader.close()
  // released: another process opens it now
  t.like(await otherProcess(url, 1), { total: 2 + during.length })
})

test('with ?locking=shared in both, two processes run on one file at once and each sees the other', async (t) => {
  const path = dbPath()
  const url = `sqlite:${path}?locking=shared`
  const { engine, start } = engineOn(url)
  await start(0).result()
  const child = otherProcess(url, 20)
  const during = await keepRunning(start, child)
  const said = await child
  t.is(said.error, undefined)
  t.is(said.ids!.length, 20)
  t.true(said.total! >= 1 + 20, 'the other process sees this one\'s runs')
  await engine.flush()
  const all = await engine.runs({ limit: 100_000 })
  t.is(all.length, 1 + during.length + 20, 'this one sees the other\'s')
  t.deepEqual(all.filter((run) => run.workflow === 'there').map((run) => run.id).sort(), [...said.ids!].sort())
  t.true(all.every((run) => run.status === 'succeeded'))
  await engine.close()
})

test('a process holding the file shared refuses one opening it with the default URL', async (t) => {
  const path = dbPath()
  const { engine, start } = engineOn(`sqlite:${path}?locking=shared`)
  await start(0).result()
  const said = await otherProcess(`sqlite:${path}`, 1)
  t.like(said.error, { code: 'ARCFLOW_STORE_HELD', path })
  t.is((await engine.runs({})).length, 1)
  await engine.close()
})
