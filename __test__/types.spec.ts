/**
 * The types a TypeScript user relies on, checked against the declarations
 * the package publishes (built here with the package's own tsconfig, so a
 * stale dist/ cannot hide a regression), and the run-time behaviour that
 * goes with them.
 */
import test from 'ava'
import { copyFileSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import ts from 'typescript'

import { Engine, InputError, InsufficientBalanceError, InterruptedError, RunFailedError, StoreError, type RunStatus } from '../lib/index'
import { toError, toFailure } from '../lib/engine/failure'
import { interruptedFailure } from '../lib/engine/task-host'

const root = join(__dirname, '..')
const dir = mkdtempSync(join(tmpdir(), 'arcflow-types-'))
const pkg = join(dir, 'node_modules', 'arcflow')
test.after.always(() => rmSync(dir, { recursive: true, force: true }))

function diagnostics(list: readonly ts.Diagnostic[]): string {
  return ts.formatDiagnostics(list, { getCanonicalFileName: (f) => f, getCurrentDirectory: () => dir, getNewLine: () => '\n' })
}

/** The published declarations, emitted once into node_modules/arcflow of a temp dir. */
const published = (() => {
  let built: string | undefined
  return (): string => {
    if (built !== undefined) return built
    const config = ts.getParsedCommandLineOfConfigFile(join(root, 'tsconfig.json'), { outDir: join(pkg, 'dist'), emitDeclarationOnly: true }, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => undefined })!
    const program = ts.createProgram(config.fileNames, config.options)
    const emitted = program.emit()
    const errors = [...ts.getPreEmitDiagnostics(program), ...emitted.diagnostics]
    if (errors.length > 0) throw new Error(diagnostics(errors))
    copyFileSync(join(root, 'lib', 'native.d.ts'), join(pkg, 'dist', 'native.d.ts'))
    writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: 'arcflow', types: './dist/index.d.ts' }))
    // the declarations import the package's dependencies' types (ajv), as an installed package's would
    const { dependencies } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { dependencies: Record<string, string> }
    for (const name of Object.keys(dependencies)) symlinkSync(join(root, 'node_modules', name), join(dir, 'node_modules', name))
    built = join(pkg, 'dist')
    return built
  }
})()

/** Type errors of `files` (name → source) compiled strictly against the published types. */
function check(files: Record<string, string>): string {
  published()
  const names = Object.entries(files).map(([name, text]) => {
    const file = join(dir, name)
    writeFileSync(file, text)
    return file
  })
  const program = ts.createProgram(names, {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.CommonJS,
    moduleResolution: ts.ModuleResolutionKind.Node10,
    types: ['node'],
    typeRoots: [join(root, 'node_modules', '@types')],
    skipLibCheck: false,
  })
  return diagnostics(ts.getPreEmitDiagnostics(program))
}

/** What the README's snippets assume exists. */
const PRELUDE = `import type { Action, Logger, Run, RunEvent, WorkflowDefinition } from 'arcflow'
declare const signal: AbortSignal
declare const runId: string
declare const id: string
declare const input: unknown
declare const wf: WorkflowDefinition
declare const run: Run
declare const metrics: { record(event: RunEvent): void }
declare function pino(): Logger
declare const complete: Action<{ maxTokens: number }, string>
`

test('README TypeScript snippets compile with tsc --strict against the published types', (t) => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8')
  const snippets = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!)
  t.true(snippets.length >= 5, `found ${snippets.length} snippets`)
  const files: Record<string, string> = {}
  snippets.forEach((snippet, i) => {
    const lines = snippet.split('\n')
    const imports = lines.filter((l) => l.startsWith('import '))
    const body = lines.filter((l) => !l.startsWith('import '))
    // each snippet in a function of its own: its names are its own, and `await` is allowed
    files[`readme-${i + 1}.ts`] = `${imports.join('\n')}\n${PRELUDE}\nexport async function snippet(): Promise<void> {\n${body.join('\n')}\n}\n`
  })
  t.is(check(files), '')
})

test('statuses are literal unions, events narrow by type, generics type actions and outputs, internals are not published (tsc --strict)', (t) => {
  t.is(check({ 'api.ts': readFileSync(join(root, '__test__', 'fixtures', 'types', 'api.ts'), 'utf8') }), '')
})

test('Run and WorkflowDefinition internals are left out of the built .d.ts', (t) => {
  const dist = published()
  // names in the prose of doc comments ("while the run is live") are not members
  const code = (file: string): string => readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '')
  // the Run class and the layers it extends (run-lifecycle.ts, run-steps.ts)
  const runClass = ['run', 'run-steps', 'run-lifecycle'].map((file) => {
    const text = code(join(dist, 'engine', `${file}.d.ts`))
    return text.slice(text.search(/declare (abstract )?class Run/))
  }).join('\n')
  t.regex(runClass, /class RunLifecycle/, 'the base layer is read too')
  for (const member of ['emit', 'taskDone', 'handle', 'crossings', 'accepting', 'live', 'track', 'untrack', 'history', 'durable', 'meter', 'waitForStore', 'insufficientBalance', 'constructor', 'TaskHost', 'eventLog', 'runStatus', 'store', 'timer', 'timers', 'actions', 'emitItem', 'ending', 'follow', 'maybeFinish', 'active', 'queueSide']) {
    t.false(new RegExp(`\\b${member}\\b`).test(runClass), `Run's .d.ts mentions ${member}`)
  }
  const model = code(join(dist, 'workflow', 'model.d.ts'))
  const definition = model.slice(model.indexOf('interface WorkflowDefinition'))
  t.false(/\bflow\b/.test(definition.slice(0, definition.indexOf('}'))), "WorkflowDefinition's .d.ts mentions flow")
  t.false(/NativeFlow/.test(model), 'the native graph type is not published with the model')
})

test('runs({ status }) with a misspelt status is an InputError naming the valid statuses, not an empty list', async (t) => {
  const memory = new Engine()
  const durable = new Engine({ store: `sqlite:${join(dir, 'runs.db')}` })
  for (const engine of [memory, durable]) {
    const error = await t.throwsAsync(engine.runs({ status: 'faild' as RunStatus }), { instanceOf: InputError })
    t.regex(error!.message, /status: must be one of queued, running, waiting, succeeded, failed, cancelled, timed_out, got "faild"/)
    t.is(error!.code, 'ARCFLOW_INPUT')
    t.deepEqual(await engine.runs({ status: 'failed' }), [])
  }
  await Promise.all([memory.close(), durable.close()])
})

test('RunFailedError.cause of an insufficient balance is an InsufficientBalanceError with its fields', async (t) => {
  const engine = new Engine({ metering: { cost: 5 } })
  engine.action('work', () => 1)
  const wf = engine.workflow({ name: 'metered', tasks: { t: { action: 'work' } } })
  engine.credit('poor', 2, { key: 'k' })
  const error = await t.throwsAsync(engine.run(wf, undefined, { account: 'poor' }), { instanceOf: RunFailedError })
  t.true(error!.cause instanceof InsufficientBalanceError, String(error!.cause))
  t.like(error!.cause, { code: 'ARCFLOW_INSUFFICIENT_BALANCE', account: 'poor', needed: 5, balance: 2, name: 'InsufficientBalanceError' })
  await engine.close()
})

test('a cause that is an arcflow error thrown by a handler is an instance of its class, with its fields, rebuilt from its failure data', async (t) => {
  const engine = new Engine({ store: `sqlite:${join(dir, 'cause.db')}`, durability: 'sync' })
  engine.action('check', () => {
    throw new InputError('bad order', ['order.id: must be string'])
  })
  const wf = engine.workflow({ name: 'checks', tasks: { t: { action: 'check' } } })
  const error = await t.throwsAsync(engine.run(wf), { instanceOf: RunFailedError })
  t.true(error!.cause instanceof InputError)
  t.deepEqual((error!.cause as InputError).problems, ['order.id: must be string'])
  await engine.close()
})

test('a failure that crossed as data is rebuilt as its class: interrupted attempts, store errors, nested causes', (t) => {
  const interrupted = toError(interruptedFailure(2))
  t.true(interrupted instanceof InterruptedError)
  t.is((interrupted as InterruptedError).code, 'ARCFLOW_INTERRUPTED')
  const nested = toError(JSON.parse(JSON.stringify({ name: 'Error', message: 'outer', cause: toFailure(new StoreError('disk full')) })))
  t.true(nested.cause instanceof StoreError)
  t.is((nested.cause as Error).message, 'disk full')
  const plain = toError({ name: 'TypeError', message: 'x' })
  t.false(plain instanceof InputError)
  t.is(plain.constructor, Error)
})
