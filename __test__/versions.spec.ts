// Workflow versions: a run records the version (content hash) of the
// definition it started with, the store keeps each version once, and a
// resume after the definition changed runs the run's own version. The
// crash cases kill -9 a child running resume-flow.json mid-fan-out; this
// process (a second one opening the store) changes the definition (the
// task `fan` renamed `fan_out`) and resumes.
import test from 'ava'
import Database from 'better-sqlite3'
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'

import { Engine, ResumeError } from '../lib/index'
import { showRun } from '../lib/cli/runs'
import { renderReport } from '../lib/cli/report'
import { normalizedJson } from '../lib/workflow/version'
import { loadWorkflow } from '../lib/workflow/load'
import { DurableStore, silentLogger } from '../lib/store/store'
import { parseStoreUrl } from '../lib/store/url'

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { registerActions } = require('./fixtures/resume-actions.cjs') as {
  registerActions(engine: Engine, options: { report: (line: string) => void; hang: boolean }): void
}

const fixtures = join(__dirname, 'fixtures')
const flowFile = join(fixtures, 'resume-flow.json')
const dbPath = (): string => join(mkdtempSync(join(tmpdir(), 'arcflow-versions-')), 'arcflow.db')
const ITEMS = 200
const original = JSON.parse(readFileSync(flowFile, 'utf8')) as { tasks: Record<string, Record<string, unknown>> } & Record<string, unknown>

/** resume-flow.json with the task `fan` renamed `fan_out` (and every reference to it). */
function renamed(): unknown {
  const def = JSON.parse(JSON.stringify(original)) as typeof original
  const { fan, ...rest } = def.tasks
  def.tasks = { ...rest, fan_out: fan! }
  def.tasks.loop!.next = (def.tasks.loop!.next as Array<{ do: unknown }>).map((n) => ({ ...n, do: Array.isArray(n.do) ? n.do.map((d) => (d === 'fan' ? 'fan_out' : d)) : n.do }))
  def.tasks.join!.input = { items: '{{ tasks.fan_out.result }}', slow: '{{ tasks.slow.result }}' }
  return def
}

/** Runs the fixture child until `minItems` items were acknowledged and `slow` runs, then kills it -9: the run id. */
function crashChild(path: string, minItems: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(fixtures, 'resume-child.mjs'), path, 'sync', String(ITEMS)], { stdio: ['ignore', 'pipe', 'inherit'] })
    let runId = ''
    let items = 0
    let slow = false
    let killed = false
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`the child never got to ${minItems} items (${items})`)) }, 60_000)
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (killed) return
      const [kind, a] = line.split(' ')
      if (kind === 'run') runId = a!
      else if (kind === 'ack' && a === 'item') items++
      else if (line === 'exec slow 1') slow = true
      if (items >= minItems && slow) {
        killed = true
        child.kill('SIGKILL')
      }
    })
    child.on('exit', (_code, signal) => {
      clearTimeout(timer)
      if (signal !== 'SIGKILL') return reject(new Error(`the child exited by itself (${signal})`))
      resolve(runId)
    })
  })
}

async function committedItems(path: string, runId: string): Promise<Set<number>> {
  const store = new DurableStore(parseStoreUrl(`sqlite:${path}`)!, { flushIntervalMs: 50, batchSize: 100, queueCapacity: 100, logger: silentLogger })
  const tasks = await store.tasks(runId)
  await store.close()
  return new Set(tasks.filter((x) => x.task === 'fan' && x.item !== undefined && x.status === 'succeeded').map((x) => x.item!))
}

async function uninterruptedOutput(): Promise<unknown> {
  const engine = new Engine()
  registerActions(engine, { report: () => {}, hang: false })
  const output = await engine.run(engine.load(flowFile), { items: ITEMS })
  await engine.close()
  return output
}

function versionRows(path: string, name: string): number {
  const db = new Database(path, { readonly: true })
  try {
    return (db.prepare('SELECT count(*) AS n FROM workflows WHERE name = ?').get(name) as { n: number }).n
  } finally {
    db.close()
  }
}

test('resume_after_a_task_rename_runs_the_runs_own_version: kill -9 mid-fan-out, the task renamed, no committed item runs again', async (t) => {
  const path = dbPath()
  const runId = await crashChild(path, 40)
  const done = await committedItems(path, runId)
  t.true(done.size > 0 && done.size < ITEMS, `the crash came mid-fan-out (${done.size} items committed)`)

  const execs: string[] = []
  const engine = new Engine({ store: `sqlite:${path}`, durability: 'sync' })
  registerActions(engine, { report: (line) => execs.push(line.slice(5)), hang: false })
  const started = loadWorkflow(original) // the child's version, loaded here only to know its hash
  const edited = engine.workflow(renamed())
  t.not(edited.version, started.version, 'a renamed task is another version')
  // a second process opening the store sees the run's version
  const [listed] = await engine.interruptedRuns()
  t.like(listed, { id: runId, version: started.version })

  const output = await engine.resume(runId).result()
  t.deepEqual(output, await uninterruptedOutput(), "the run's own version ran to the end")
  t.false(execs.some((e) => e.startsWith('loop')), 'no loop ran again')
  const rerun = execs.filter((e) => e.startsWith('fan')).map((e) => Number(e.split(' ')[1]))
  t.deepEqual(rerun.filter((i) => done.has(i)), [], 'committed items ran again')
  t.is(new Set([...done, ...rerun]).size, ITEMS, 'every item ran once in all')
  const info = (await engine.getRun(runId))!
  t.like(info, { status: 'succeeded', version: started.version })
  t.false(info.tasks.some((x) => x.task === 'fan_out'), 'nothing of the edited definition ran')
  t.regex(showRun(info), new RegExp(`version   ${started.version}`))
  t.regex(renderReport(info), new RegExp(`id="run-version" title="${started.version}">${started.version.slice(0, 12)}<`), 'the report names the version')
  await engine.close()
  t.is(versionRows(path, 'resumable'), 2, "the child's version and the edited one, once each")
})

test('resume_refuses_a_changed_definition_whose_version_the_store_lacks: a ResumeError naming the tasks, nothing lost; allowChangedDefinition runs the loaded one', async (t) => {
  const path = dbPath()
  const runId = await crashChild(path, 5)
  // the store lost the version (a database from before, or pruned)
  const db = new Database(path)
  db.prepare("DELETE FROM workflows WHERE name = 'resumable'").run()
  db.close()

  const engine = new Engine({ store: `sqlite:${path}`, durability: 'sync' })
  registerActions(engine, { report: () => {}, hang: false })
  const edited = engine.workflow(renamed())
  const refusal = t.throws(() => engine.resume(runId), { instanceOf: ResumeError, code: 'ARCFLOW_RESUME' })!
  t.regex(refusal.message, /which the store does not have/)
  t.regex(refusal.message, /lacks \(removed or renamed\): fan\b/)
  t.regex(refusal.message, /never ran \(new, renamed or not reached\): .*fan_out/)
  t.regex(refusal.message, /allowChangedDefinition: true/)
  t.deepEqual((await engine.interruptedRuns()).map((r) => r.id), [runId], 'the refused run is still there to resume')

  const output = await engine.resume(runId, { allowChangedDefinition: true }).result()
  t.deepEqual(output, await uninterruptedOutput())
  const info = (await engine.getRun(runId))!
  t.like(info, { status: 'succeeded', version: edited.version }, 'the run now names the version it ran with')
  t.is(info.tasks.filter((x) => x.task === 'fan_out' && x.item !== undefined && x.status === 'succeeded').length, ITEMS)
  await engine.close()
})

test('two_loads_of_the_same_definition_share_one_version: YAML or JSON, any spacing; a change is a new version, seen by another engine', async (t) => {
  const path = dbPath()
  const engine = new Engine({ store: `sqlite:${path}` })
  registerActions(engine, { report: () => {}, hang: false })
  const fromFile = engine.load(flowFile)
  const again = engine.workflow(JSON.parse(JSON.stringify(original)))
  const yaml = engine.workflow(`# the same, as YAML\n${JSON.stringify(original, null, 2)}\n`)
  t.is(again.version, fromFile.version)
  t.is(yaml.version, fromFile.version)
  t.regex(fromFile.version, /^[0-9a-f]{64}$/)
  // key order is meaning (task indexes, inputs' key order): another version
  t.not(engine.workflow(Object.fromEntries(Object.entries(original).reverse())).version, fromFile.version)
  t.is(normalizedJson({ b: 1, a: [true, { c: 'x' }] }), '{"b":1,"a":[true,{"c":"x"}]}')
  await engine.run(fromFile, { items: 2 }, { runId: 'v1-run' })
  await engine.flush()
  t.is(versionRows(path, 'resumable'), 2, 'one row per version: the file, its YAML and a copy are one; the reordered one another')

  const changed = engine.workflow({ ...original, step_limit: 500 })
  t.not(changed.version, fromFile.version)
  await engine.flush()
  t.is(versionRows(path, 'resumable'), 3)
  await engine.close()

  const other = new Engine({ store: `sqlite:${path}` })
  registerActions(other, { report: () => {}, hang: false })
  other.load(flowFile)
  await other.flush()
  t.is(versionRows(path, 'resumable'), 3, 'the same version from another engine adds no row')
  t.like((await other.runs())[0], { id: 'v1-run', version: fromFile.version })
  t.like(await other.getRun('v1-run'), { version: fromFile.version })
  await other.close()
})

test('a bad definition for a version is a WorkflowError, not a crash: a cycle is a load problem', (t) => {
  const engine = new Engine()
  const def: Record<string, unknown> = { name: 'cyclic', tasks: { a: { action: 'x' } } }
  def.self = def
  const error = t.throws(() => engine.workflow(def))!
  t.is((error as { code?: string }).code, 'ARCFLOW_WORKFLOW_INVALID')
})
