// The command line's rough edges, each pinned by the bug it had: --actions
// repeatable, validate knowing the actions, runs list/show, run --account,
// graph details, the report's axis and item inputs, and Ctrl-C against a
// handler that ignores its signal.
import test from 'ava'
import { join } from 'node:path'
import { createInterface } from 'node:readline'

import { Engine } from '../lib/index'

import { arcflow, finish, fixtures, hello, helloActions, start, workdir as cliWorkdir } from './support/cli'

const workdir = (): string => cliWorkdir('arcflow-cli-ops-')
const lastJson = (stdout: string): { type: string; runId: string; output: unknown } => JSON.parse(stdout.trim().split('\n').at(-1)!)

test("--actions was variadic: 'run --actions a.js flow.yaml' failed with missing required argument 'file'", async (t) => {
  const cwd = workdir()
  const r = await arcflow(['run', '--actions', helloActions, '--actions', join(fixtures, 'report-actions.mjs'), hello, '--input', '{"names":["Ada"]}', '--json'], cwd)
  t.is(r.code, 0, r.stderr)
  t.like(lastJson(r.stdout), { type: 'output', output: { greeted: 1 } })
})

test('validate accepted action: http.gte; now unknown actions are problems with did-you-mean, --actions repeatable', async (t) => {
  const cwd = workdir()
  const typo = await arcflow(['validate', join(fixtures, 'typo.yaml')], cwd)
  t.is(typo.code, 2)
  t.regex(typo.stderr, /typo\.yaml:5:13: tasks\.get\.action: action 'http\.gte' is not a built-in action \(did you mean 'http\.request'\?\)/)
  // with the modules, every action must exist: hello's are in its module, a built-in is known
  t.is((await arcflow(['validate', hello, join(fixtures, 'shell.yaml'), '--actions', helloActions], cwd)).code, 0)
  const missing = await arcflow(['validate', hello, '--actions', join(fixtures, 'report-actions.mjs')], cwd)
  t.is(missing.code, 2)
  t.regex(missing.stderr, /action 'greet' is not registered/)
  // the engine reports an unknown action the same way
  const engine = new Engine({ builtins: true })
  const error = t.throws(() => engine.workflow({ name: 'x', tasks: { get: { action: 'http.gte' } } }))
  t.regex(error!.message, /action 'http\.gte' is not registered \(did you mean 'http\.request'\?\)/)
})

test("runs list --status bogus printed 'no runs' and exited 0: now exit 2 with the valid statuses", async (t) => {
  const r = await arcflow(['runs', 'list', '--status', 'bogus'], workdir())
  t.is(r.code, 2)
  t.regex(r.stderr, /--status must be one of queued, running, waiting, succeeded, failed, cancelled, timed_out, got 'bogus'/)
})

test('runs show cut the output with an ellipsis and had no --json', async (t) => {
  const cwd = workdir()
  const run = await arcflow(['run', join(fixtures, 'long-output.yaml'), '--json'], cwd)
  t.is(run.code, 0, run.stderr)
  const id = lastJson(run.stdout).runId
  const show = await arcflow(['runs', 'show', id], cwd)
  t.true(show.stdout.includes(`"text": "${'x'.repeat(300)}"`), show.stdout)
  const json = await arcflow(['runs', 'show', id, '--json'], cwd)
  t.is(json.code, 0)
  t.like(JSON.parse(json.stdout), { id, status: 'succeeded', output: { text: 'x'.repeat(300) } })
})

test('run had no --account: the run is metered to it, an unknown one is a usage error', async (t) => {
  const cwd = workdir()
  t.is((await arcflow(['runs', 'list'], cwd)).code, 0) // makes the store
  const engine = new Engine({ store: `sqlite:${join(cwd, '.arcflow', 'arcflow.db')}` })
  engine.credit('acme', 100, { key: 'start' })
  await engine.close()
  const run = await arcflow(['run', join(fixtures, 'long-output.yaml'), '--account', 'acme', '--json'], cwd)
  t.is(run.code, 0, run.stderr)
  const show = await arcflow(['runs', 'show', lastJson(run.stdout).runId, '--json'], cwd)
  t.is(JSON.parse(show.stdout).account, 'acme')
  const unknown = await arcflow(['run', join(fixtures, 'long-output.yaml'), '--account', 'nobody'], cwd)
  t.is(unknown.code, 2)
  t.regex(unknown.stderr, /nobody/)
})

test('graph showed no joins, retries or timeouts', async (t) => {
  const r = await arcflow(['graph', hello], workdir())
  t.true(r.stdout.includes('t_greet[["greet<br/>greet<br/>with items, concurrency 4<br/>retry ×2, exponential from 10 ms<br/>timeout 1000 ms"]]'), r.stdout)
  t.true(r.stdout.includes('t_report["report<br/>report<br/>join: all"]'))
  const dot = await arcflow(['graph', hello, '--format', 'dot'], workdir())
  t.true(dot.stdout.includes('"report" [label="report\\nreport\\njoin: all"];'), dot.stdout)
})

test('Ctrl-C exited 130 only after a handler that ignores its signal finished its own 100 s timer', async (t) => {
  const cwd = workdir()
  const child = start(['run', join(fixtures, 'stubborn.yaml'), '--actions', join(fixtures, 'stubborn-actions.mjs')], cwd)
  const result = finish(child)
  await new Promise<void>((resolve) => createInterface({ input: child.stderr! }).on('line', (line) => line === 'holding' && resolve()))
  child.kill('SIGINT')
  // bounded: far below the handler's 100 s, far above a flush
  const r = await Promise.race([result, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 30_000).unref())])
  if (!r) child.kill('SIGKILL')
  t.is(r?.code, 130, 'exited after the flush, without waiting for the handler')
  t.regex(r?.stdout ?? '', /run\.cancelled/)
})

test("report: item inputs showed '(none)', then '(not recorded for items)'; now the item's own input; and the right-hand axis label was cut", async (t) => {
  const cwd = workdir()
  const r = await arcflow(['run', join(fixtures, 'report.yaml'), '--actions', join(fixtures, 'report-actions.mjs'), '--input', '{"count":3}', '--json'], cwd)
  t.is(r.code, 0, r.stderr)
  const out = join(cwd, 'run.html')
  t.is((await arcflow(['report', lastJson(r.stdout).runId, '--out', out], cwd)).code, 0)
  const { chromium } = await import('playwright-core')
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: ['--no-sandbox'] })
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 800 } })
    await page.goto(`file://${out}`)
    const axis = (await page.locator('.axis').boundingBox())!
    const last = (await page.locator('.axis span').last().boundingBox())!
    const timeline = (await page.locator('#timeline').boundingBox())!
    t.true(last.x + last.width <= axis.x + axis.width + 0.5, 'the last label ends inside the axis')
    t.true(last.x + last.width <= timeline.x + timeline.width, 'and inside the timeline box')
    // each bar shows the input its item ran with (fan's input is 2 + index % 3)
    for (const bar of [0, 2]) {
      await page.locator('.lane.items .bar').nth(bar).click()
      const index = Number(/ #(\d+) /.exec((await page.textContent('.execution-title'))!)![1])
      t.is(await page.textContent('.execution-input'), String(2 + (index % 3)), `item #${index}`)
    }
  } finally {
    await browser.close()
  }
})
