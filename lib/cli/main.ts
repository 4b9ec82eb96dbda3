/**
 * The `arcflow` command: run, validate, draw and inspect workflows.
 * Exit codes: 0 success, 1 a run failed, 2 bad usage or an invalid
 * workflow, 3 `enqueue --wait` of a run cancelled, timed out or not waited
 * for to its end, 130 a run cancelled (a worker's runs released) with Ctrl-C.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { Command, CommanderError, Option } from 'commander'

import { loadWorkflowFile, describeProblem } from '../workflow/load'
import { NativeBindingError, StoreHeldError, WorkflowError } from '../errors'
import { masked } from '../store/url'
import { collect, registerActions, UsageError } from './actions'
import { BUILTIN_ACTION_NAMES } from '../actions'
import { Engine } from '../engine/engine'
import { renderGraph, type GraphFormat } from './graph'
import { renderReport } from './report'
import { listRuns, showRun } from './runs'
import { serveCommand, type ServeFlags } from './serve'
import { DEFAULT_STORE, openEngine, resumeCommand, runCommand, type Io, type RunFlags } from './run-command'
import type { RunInfo } from '../engine/engine'
import { RUN_STATUSES, type RunStatus } from '../engine/statuses'
import { enqueueCommand, workerCommand, type EnqueueFlags, type WorkerFlags } from './worker-command'

const version = (JSON.parse(readFileSync(`${__dirname}/../../package.json`, 'utf8')) as { version: string }).version

const storeOption = (): Option => new Option('--store <url>', "where runs are kept: 'sqlite:PATH' (one process at a time; 'sqlite:PATH?locking=shared' in every process that shares the file), 'postgres://user:password@host:5432/db[?schema=NAME]' or 'memory'").default(DEFAULT_STORE)

function program(io: Io, done: (code: number) => void): Command {
  const out = (text: string): void => void io.stdout.write(text.endsWith('\n') ? text : `${text}\n`)
  const cli = new Command('arcflow')
    .description('Run, validate, draw and inspect arcflow workflows.')
    .version(version)
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ writeOut: (s) => void io.stdout.write(s), writeErr: (s) => void io.stderr.write(s) })
    .exitOverride()

  cli
    .command('run')
    .description('run a workflow file, with live progress, on the embedded store')
    .argument('<file>', 'workflow (.yaml, .yml or .json)')
    .option('--input <json>', "the run's input: JSON text, or @file.json")
    .option('--actions <module>', 'a module whose default export is an object of actions or a function receiving the engine (repeatable)', collect)
    .addOption(storeOption())
    .addOption(new Option('--durability <mode>', 'none, batched or sync').choices(['none', 'batched', 'sync']))
    .option('--account <name>', 'the account that pays for the run (metering)')
    .option('--json', 'NDJSON events on stdout, then {"type":"output",...} as the last line')
    .option('--allow-shell', 'enable the shell.exec action')
    .addHelpText('after', `
Built-in actions: core.echo, core.sleep, core.fail, http.request, shell.exec (with --allow-shell).

Examples:
  $ arcflow run flows/report.yaml --input '{"url":"https://example.com"}'
  $ arcflow run flows/etl.yaml --input @input.json --actions ./actions.mjs --actions ./more.mjs --durability sync
  $ arcflow run flows/etl.yaml --json > events.ndjson`)
    .action(async (file: string, flags: RunFlags) => done(await runCommand(file, flags, io)))

  cli
    .command('validate')
    .description('check workflow files: every problem with file:line:column and a hint')
    .argument('<files...>', 'workflow files')
    .option('--actions <module>', 'a module of actions the workflows use (repeatable): then every action must exist', collect)
    .addHelpText('after', `
Without --actions, actions named like a built-in (core.*, http.*, shell.*) must be one;
with it, every action must be a built-in or one of the modules'.

Example:
  $ arcflow validate flows/*.yaml --actions ./actions.mjs`)
    .action(async (files: string[], flags: { actions?: string[] }) => {
      let engine: Engine | undefined
      if (flags.actions) {
        engine = new Engine()
        await registerActions(engine, flags.actions, true)
      }
      let bad = 0
      for (const file of files) {
        try {
          const wf = engine ? engine.load(file) : loadWorkflowFile(file, { builtins: BUILTIN_ACTION_NAMES })
          out(`✔ ${file}: ${wf.name}, ${wf.taskList.length} tasks`)
        } catch (error) {
          bad++
          if (error instanceof WorkflowError) {
            io.stderr.write(`✘ ${file}: ${error.problems.length} problem${error.problems.length === 1 ? '' : 's'}\n`)
            for (const p of error.problems) io.stderr.write(`  ${describeProblem(p)}\n`)
          } else io.stderr.write(`✘ ${file}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}\n`)
        }
      }
      await engine?.close()
      done(bad > 0 ? 2 : 0)
    })

  cli
    .command('graph')
    .description('draw a workflow: tasks, transitions with their conditions, with-items marked')
    .argument('<file>', 'workflow file')
    .addOption(new Option('--format <format>', 'mermaid or dot').choices(['mermaid', 'dot']).default('mermaid'))
    .addHelpText('after', '\nExamples:\n  $ arcflow graph flows/etl.yaml > etl.mmd\n  $ arcflow graph flows/etl.yaml --format dot | dot -Tsvg > etl.svg')
    .action((file: string, flags: { format: GraphFormat }) => {
      out(renderGraph(loadOrExplain(file), flags.format))
      done(0)
    })

  cli
    .command('worker')
    .description("run a store's queued runs: claims them in batches, holds them under a lease, until Ctrl-C")
    .requiredOption('--workflows <path>', 'a workflow file, or a folder of them (repeatable): the workflows this worker runs', collect)
    .option('--actions <module>', 'a module of actions (repeatable)', collect)
    .addOption(storeOption())
    .option('--queue <name>', 'a queue to take runs from (repeatable; default: default)', collect)
    .option('--concurrency <n>', 'runs held at once', (v) => positive(v, '--concurrency'), 64)
    .option('--prefetch <n>', 'runs claimed ahead of free slots, waiting in the worker (default 0; for many short runs)', (v) => integer(v, '--prefetch'))
    .option('--lease <duration>', "how long a claim holds a run without renewal (default '30s')")
    .addOption(new Option('--durability <mode>', 'none, batched or sync').choices(['none', 'batched', 'sync']))
    .option('--allow-shell', 'enable the shell.exec action')
    .addHelpText('after', `
On a terminal a status line shows claimed / running / done / lost leases per second.
Ctrl-C (or SIGTERM) stops claiming and finishes the runs in flight; a second
Ctrl-C releases them for another worker to take over (exit 130).
SQLite: workers of one machine share the file; they find other processes'
enqueues by a short poll (250 ms). PostgreSQL wakes them by notification.

Example:
  $ arcflow worker --store postgres://app@db/arcflow --actions ./actions.mjs --workflows ./flows --queue default --concurrency 64`)
    .action(async (flags: WorkerFlags) => done(await workerCommand(flags, io)))

  cli
    .command('enqueue')
    .description('enqueue a run for a worker; with --wait, print its output')
    .argument('<workflow>', "the workflow's name (as the workers loaded it)")
    .option('--input <json>', "the run's input: JSON text, or @file.json")
    .option('--key <key>', 'idempotency key: the same key answers the run it enqueued')
    .option('--queue <name>', "the queue (default 'default')")
    .option('--priority <n>', 'higher first (default 0)', (v) => integer(v, '--priority'))
    .option('--delay <duration>', "claimable only after this long: '5s', '2m'")
    .option('--account <name>', 'the account that pays for the run')
    .option('--wait', "wait for the run's end and print its output (exit 0 succeeded, 1 failed, 3 cancelled or timed out)")
    .option('--timeout <duration>', 'with --wait: give up after this long (exit 3)')
    .addOption(storeOption())
    .addHelpText('after', `
Without --wait the run's id is printed.

Examples:
  $ arcflow enqueue etl --input @in.json --key etl-2026-11-30 --store postgres://app@db/arcflow
  $ arcflow enqueue hello --input '{"name":"Ada"}' --wait`)
    .action(async (workflow: string, flags: EnqueueFlags) => done(await enqueueCommand(workflow, flags, io)))

  cli
    .command('serve')
    .description('serve workflows over HTTP, Server-Sent Events and WebSocket (see arcflow/server)')
    .requiredOption('--workflows <path>', 'a folder of workflow files (.yaml, .yml, .json), or a file (repeatable)', collect)
    .option('--actions <module>', 'a module of actions (repeatable)', collect)
    .addOption(storeOption())
    .addOption(new Option('--durability <mode>', 'none, batched or sync').choices(['none', 'batched', 'sync']))
    .option('--port <n>', 'port (0: a free one)', (v) => port(v), 8080)
    .option('--host <address>', 'address to bind', '127.0.0.1')
    .option('--tokens <file>', 'bearer tokens, one a line (also ARCFLOW_TOKENS, comma-separated)')
    .option('--no-auth', 'serve without tokens (refused off a loopback address)')
    .option('--shutdown-grace <ms>', 'on SIGTERM, how long requests waiting for a run may go on', (v) => positive(v, '--shutdown-grace'), 10_000)
    .option('--allow-shell', 'enable the shell.exec action')
    .option('--queue <name>', 'in front of workers: enqueue runs on this queue (a shared store: PostgreSQL, or sqlite:PATH?locking=shared) for `arcflow work`, instead of running them here')
    .addHelpText('after', `
Example:
  $ ARCFLOW_TOKENS=s3cret arcflow serve --workflows ./flows --actions ./actions.mjs --store sqlite:./arcflow.db --port 8080
  $ curl -H 'authorization: Bearer s3cret' -d '{"workflow":"hello","input":{"name":"Ada"},"wait":true}' -H 'content-type: application/json' localhost:8080/v1/runs
  $ ARCFLOW_TOKENS=s3cret arcflow serve --workflows ./flows --store postgres://app@db/arcflow --queue default`)
    .action(async (flags: ServeFlags) => done(await serveCommand(flags, io)))

  const runs = cli.command('runs').description('run history and recovery, through the store')
  runs
    .command('list')
    .description('runs, newest first')
    .option('--status <status>', `one of ${RUN_STATUSES.join(', ')}`, (v) => status(v))
    .option('--limit <n>', 'at most this many', (v) => positive(v, '--limit'), 20)
    .addOption(storeOption())
    .addHelpText('after', '\nExample:\n  $ arcflow runs list --status failed --limit 5')
    .action(async (flags: { status?: string; limit: number; store: string }) => {
      const engine = await openEngine({ store: flags.store })
      try {
        out(listRuns(await engine.runs({ ...(flags.status ? { status: flags.status as RunStatus } : {}), limit: flags.limit })))
      } finally {
        await engine.close()
      }
      done(0)
    })
  runs
    .command('show')
    .description("a run's status, input, output and every task execution")
    .argument('<id>', 'run id')
    .addOption(storeOption())
    .option('--json', 'the whole run as one JSON document')
    .addHelpText('after', '\nExamples:\n  $ arcflow runs show 0193c1d2-...\n  $ arcflow runs show 0193c1d2-... --json | jq .output')
    .action(async (id: string, flags: { store: string; json?: boolean }) =>
      done(await withRun(id, flags.store, (info) => out(flags.json ? JSON.stringify(info) : showRun(info)))))
  runs
    .command('resume')
    .description('go on with a run a crash interrupted (completed tasks do not run again)')
    .argument('<id>', 'run id (see: arcflow runs list --status running)')
    .argument('<file>', 'the workflow file the run was started from')
    .option('--actions <module>', 'an action module the run was started with (repeatable)', collect)
    .addOption(storeOption())
    .option('--json', 'NDJSON events on stdout, then {"type":"output",...} as the last line')
    .option('--allow-shell', 'enable the shell.exec action')
    .addHelpText('after', '\nExample:\n  $ arcflow runs resume 0193c1d2-... flows/etl.yaml --actions ./actions.mjs')
    .action(async (id: string, file: string, flags: RunFlags) => done(await resumeCommand(id, file, flags, io)))

  runs
    .command('signal')
    .description('send a signal to a run (a wait for it takes it; kept until one does)')
    .argument('<id>', 'run id')
    .argument('<name>', "the signal's name")
    .option('--data <json>', 'the payload: JSON text, or @FILE to read it from a file', 'null')
    .addOption(storeOption())
    .addHelpText('after', '\nExamples:\n  $ arcflow runs signal 0193c1d2-... approval --data \'{"ok":true}\'\n  $ arcflow runs signal 0193c1d2-... approval --data @answer.json')
    .action(async (id: string, name: string, flags: { data: string; store: string }) => {
      const payload = signalPayload(flags.data)
      const engine = await openEngine({ store: flags.store })
      try {
        await engine.signal(id, name, payload)
      } finally {
        await engine.close()
      }
      out(`signal '${name}' sent to run ${id}`)
      done(0)
    })

  cli
    .command('report')
    .description('one self-contained HTML page for a run: a timeline of attempts and items, statuses, errors, inputs and outputs')
    .argument('<id>', 'run id')
    .requiredOption('--out <file>', 'the HTML file to write')
    .addOption(storeOption())
    .addHelpText('after', '\nExample:\n  $ arcflow report 0193c1d2-... --out run.html')
    .action(async (id: string, flags: { out: string; store: string }) =>
      done(await withRun(id, flags.store, (info) => {
        writeFileSync(flags.out, renderReport(info))
        out(`wrote ${flags.out} (${info.tasks.length} executions)`)
      })))
  return cli
}

/** `--data`: JSON text or `@FILE`, or a usage error (exit 2) saying what is wrong. */
function signalPayload(data: string): unknown {
  let text = data
  if (data.startsWith('@')) {
    try {
      text = readFileSync(data.slice(1), 'utf8')
    } catch (error) {
      throw new UsageError(`--data ${data}: ${(error as Error).message}`)
    }
  }
  try {
    return JSON.parse(text) as unknown
  } catch (error) {
    throw new UsageError(`--data must be JSON text or @FILE: ${(error as Error).message}`)
  }
}

/** `--status`: one of the statuses a run can have, or a usage error (exit 2) that lists them. */
function status(value: string): RunStatus {
  if (!(RUN_STATUSES as readonly string[]).includes(value)) throw new UsageError(`--status must be one of ${RUN_STATUSES.join(', ')}, got '${value}'`)
  return value as RunStatus
}

function integer(value: string, flag: string): number {
  const n = Number(value)
  if (!Number.isSafeInteger(n)) throw new UsageError(`${flag} must be an integer, got '${value}'`)
  return n
}


function port(value: string): number {
  const n = Number(value)
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new UsageError(`--port must be 0 to 65535, got '${value}'`)
  return n
}

function positive(value: string, flag: string): number {
  const n = Number(value)
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flag} must be a positive integer, got '${value}'`)
  return n
}

function loadOrExplain(file: string) {
  try {
    return loadWorkflowFile(file)
  } catch (error) {
    if (error instanceof WorkflowError) throw new UsageError(error.message)
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new UsageError(`no such file: ${file}`)
    throw error
  }
}

async function withRun(id: string, store: string, use: (info: RunInfo) => void): Promise<number> {
  const engine = await openEngine({ store })
  try {
    const info = await engine.getRun(id)
    if (!info) throw new UsageError(`no run ${id} in ${masked(store)}`)
    use(info)
    return 0
  } finally {
    await engine.close()
  }
}

/** Runs the command line `argv` (without `node` and the script); resolves with the exit code. */
export async function main(argv: string[], io: Io = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  let code = 0
  try {
    await program(io, (c) => (code = c)).parseAsync(argv, { from: 'user' })
    return code
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end here too, with code 0
      return error.exitCode === 0 ? 0 : 2
    }
    if (error instanceof UsageError) {
      io.stderr.write(`arcflow: ${error.message}\n`)
      return 2
    }
    // not a bug: what to do is the message (a held store; a missing binary,
    // whose load errors are its causes), a stack would bury it
    if (error instanceof StoreHeldError || error instanceof NativeBindingError) {
      io.stderr.write(`arcflow: ${error.message}\n`)
      return 1
    }
    io.stderr.write(`arcflow: ${(error as Error).stack ?? String(error)}\n`)
    return 1
  }
}
