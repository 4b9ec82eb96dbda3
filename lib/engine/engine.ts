/**
 * The engine: registers actions, loads workflows, starts and resumes runs,
 * and sees every run's events. In memory by default; with a store, runs
 * are journaled through the native write-behind queue.
 */
import { randomUUID } from 'node:crypto'

import { AbortedError, ArcflowError, EngineClosedError, ResumeError } from '../errors'
import { Accounts, type Credit, type LedgerEntry } from './accounts'
import type { Cost, MeteringOptions } from './metering'
import { loadWorkflow, loadWorkflowFile } from '../workflow/load'
import { inputProblems } from '../workflow/input'
import type { WorkflowDefinition } from '../workflow/model'
import type { Action } from './attempt'
import type { RunEvent } from './events'
import { DurableStore, parseStoreUrl, silentLogger, type EventRecord, type Logger, type RunRecord, type StoreStats, type TaskRecord } from '../store/store'
import type { ReadOptions } from '../store/read'
import { Run, type Durability } from './run'
import { uuidv7 } from './run-id'
import { executionsFromEvents, logsFromEvents } from './history'

export interface StartOptions {
  /** Cancels the run when aborted (policy `cancel_running`). */
  signal?: AbortSignal
  /** Default: a random UUID (version 7, time-ordered, with a store). */
  runId?: string
  /** Run-level timeout in milliseconds: the run ends `timed_out`. */
  timeout?: number
  /** Overrides the engine's durability for this run. */
  durability?: Durability
  /** The account that pays for the run's attempts (metering); without one the run is not metered. */
  account?: string
}

export interface EngineOptions {
  /** `'memory'` (default: nothing persisted) or `'sqlite:PATH'` (embedded, WAL). */
  store?: string
  /**
   * With a store: `'batched'` (default; on disk within `flushIntervalMs`, a
   * crash loses at most that window), `'sync'` (a completion is
   * acknowledged once its batch commits; concurrent completions share a
   * commit) or `'none'` (skip the store).
   */
  durability?: Durability
  /** Default 50. */
  flushIntervalMs?: number
  /** Writes per transaction at most; default 10,000. */
  batchSize?: number
  /** Queued writes past which runs wait for the store (backpressure); default 100,000. */
  queueCapacity?: number
  /** Queued bytes (approximate) past which runs wait for the store, so memory stays bounded under a failing disk; default 256 MiB. */
  queueCapacityBytes?: number
  /**
   * Age of the oldest write not yet on disk past which runs wait for the
   * store (at least twice `flushIntervalMs`): bounds what `batched` loses
   * at a crash while the disk fails; default 1,000.
   */
  maxUnwrittenMs?: number
  /** Task completions of a run between two snapshots of its state (resume replays at most this many); default 256. */
  snapshotEvery?: number
  /** Lifecycle messages (opened, flushed, retrying, closed); pino or console shape. Default: silent. */
  logger?: Logger
  /** Flush and close on SIGINT / SIGTERM, then exit. Default false (a normal exit always flushes). */
  handleSignals?: boolean
  /** Credits charged per attempt to the run's account (`start(wf, input, { account })`). */
  metering?: MeteringOptions
}

/** `engine.action(name, fn, options)`. */
export interface ActionOptions {
  /** Credits per attempt (metered runs): a number, or a function of the input. Default: the engine's `metering.cost`, else 0. */
  cost?: Cost
}


export interface ResumeOptions {
  /** The workflow the run belongs to; default: the one this engine loaded under the run's workflow name. */
  workflow?: WorkflowDefinition
  signal?: AbortSignal
  /** A timeout for the rest of the run, in milliseconds. */
  timeout?: number
  /** Default: the engine's (`batched` when that is `none`: a resumed run is durable). */
  durability?: Exclude<Durability, 'none'>
}

/** `engine.stats()`. */
export interface EngineStats {
  /** Runs in progress in this engine. */
  liveRuns: number
  /** The store's queue and flush figures; `null` in memory. */
  store: StoreStats | null
  /** `getRun` of a live run is answered from memory (hit); of any other, from the store (miss). */
  cache: { hits: number; misses: number }
}


/** What `engine.getRun()` reports. */
export interface RunInfo {
  id: string
  workflow: string
  status: string
  /** Still running in this process. */
  live: boolean
  input?: unknown
  output?: unknown
  error?: unknown
  startedAt?: number
  endedAt?: number
  /** Task executions, in the order they ended (durable runs). */
  tasks: TaskRecord[]
  /** The run's journal of events: what its handlers logged (`ctx.log`), resumes. */
  events: EventRecord[]
}

/** Bad input for a run (code `ARCFLOW_INPUT`). */
export class InputError extends ArcflowError {
  /** Each problem with its path, e.g. `input.urls: must be array`. */
  readonly problems: string[]
  constructor(message: string, problems: string[] = []) {
    super('ARCFLOW_INPUT', message)
    this.problems = problems
  }
}

/**
 * @example
 * const engine = new Engine()
 * engine.action('greet', async ({ name }) => `hello ${name}`)
 * const wf = engine.workflow({ name: 'hi', tasks: { greet: { action: 'greet', input: { name: '{{ input.name }}' } } }, output: '{{ tasks.greet.result }}' })
 * await engine.run(wf, { name: 'Ada' }) // 'hello Ada'
 */
export class Engine {
  readonly #actions = new Map<string, Action>()
  readonly #listeners: Array<(event: RunEvent) => void> = []
  /** Live runs by id. */
  readonly #runs = new Map<string, Run>()
  /** History reads served from live runs (hits) or from the store (misses). */
  readonly #cache = { hits: 0, misses: 0 }
  /** Each workflow's actions by task index, resolved once (until an action is registered again). */
  #resolved = new WeakMap<WorkflowDefinition, Action[]>()
  /** Metering: accounts, costs, the ledger. */
  readonly #accounts: Accounts
  /** Workflows loaded by this engine, by name: what `resume` runs. */
  readonly #workflows = new Map<string, WorkflowDefinition>()
  readonly #onEnd = (runId: string): void => void this.#runs.delete(runId)
  #closed = false
  readonly #store: DurableStore | undefined
  readonly #durability: Durability
  readonly #exitFlush: (() => void) | undefined
  readonly #signalHandlers: Array<[NodeJS.Signals, () => void]> = []

  /**
   * @example
   * const engine = new Engine({ store: 'sqlite:./arcflow.db', durability: 'batched' })
   */
  constructor(options: EngineOptions = {}) {
    const path = parseStoreUrl(options.store ?? 'memory')
    const durability = options.durability ?? (path === undefined ? 'none' : 'batched')
    if (!['none', 'batched', 'sync'].includes(durability)) throw new TypeError(`durability must be 'none', 'batched' or 'sync', got ${JSON.stringify(durability)}`)
    if (path === undefined && durability !== 'none') throw new TypeError(`durability '${durability}' needs a store: pass store: 'sqlite:PATH'`)
    this.#durability = durability
    if (path !== undefined) {
      const positive = (v: number | undefined, fallback: number, what: string): number => {
        if (v === undefined) return fallback
        if (!Number.isInteger(v) || v < 1 || v > 0xffffffff) throw new TypeError(`${what} must be a positive integer, got ${String(v)}`)
        return v
      }
      const positiveBytes = (v: number | undefined): number => {
        if (v === undefined) return 256 * 1024 * 1024
        if (!Number.isSafeInteger(v) || v < 1) throw new TypeError(`queueCapacityBytes must be a positive integer, got ${String(v)}`)
        return v
      }
      this.#store = new DurableStore(path, {
        flushIntervalMs: positive(options.flushIntervalMs, 50, 'flushIntervalMs'),
        batchSize: positive(options.batchSize, 10_000, 'batchSize'),
        queueCapacity: positive(options.queueCapacity, 100_000, 'queueCapacity'),
        snapshotEvery: positive(options.snapshotEvery, 256, 'snapshotEvery'),
        queueCapacityBytes: positiveBytes(options.queueCapacityBytes),
        maxUnwrittenMs: positive(options.maxUnwrittenMs, 1_000, 'maxUnwrittenMs'),
        logger: options.logger ?? silentLogger,
      })
      // a normal exit commits everything queued (the flush thread would die with the process)
      const store = this.#store
      this.#exitFlush = (): void => store.closeSync()
      process.on('exit', this.#exitFlush)
      if (options.handleSignals) {
        for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
          const handler = (): void => void this.close().finally(() => process.exit(code))
          process.once(signal, handler)
          this.#signalHandlers.push([signal, handler])
        }
      }
    }
    this.#accounts = new Accounts(options.metering, this.#store)
  }

  /** Registers an action (an async function of the task's rendered input). */
  action(name: string, fn: Action, options: ActionOptions = {}): this {
    if (typeof name !== 'string' || name === '') throw new TypeError('action name must be a non-empty string')
    if (typeof fn !== 'function') throw new TypeError(`action '${name}' must be a function`)
    this.#accounts.setCost(name, options.cost)
    this.#actions.set(name, fn)
    this.#resolved = new WeakMap()
    return this
  }

  /** Loads a workflow from a definition object or YAML/JSON text; checks its actions are registered. */
  workflow(definition: unknown): WorkflowDefinition {
    return this.#known(loadWorkflow(definition, { actions: this.#actions.keys() }))
  }

  /** Loads a workflow file (`.yaml`, `.yml`, `.json`). */
  load(file: string): WorkflowDefinition {
    return this.#known(loadWorkflowFile(file, { actions: this.#actions.keys() }))
  }

  /**
   * Refuses a call once `close()` began (`EngineClosedError`): what runs,
   * meters or reads from the store. Registering actions and workflows,
   * listening and `stats()` stay open: they touch nothing closed.
   */
  #open(): void {
    if (this.#closed) throw new EngineClosedError()
  }

  #known(workflow: WorkflowDefinition): WorkflowDefinition {
    this.#workflows.set(workflow.name, workflow)
    return workflow
  }

  #actionsOf(workflow: WorkflowDefinition): Action[] {
    let actions = this.#resolved.get(workflow)
    if (!actions) {
      actions = workflow.taskList.map((task) => {
        const action = this.#actions.get(task.action)
        if (!action) throw new InputError(`task '${task.name}' uses action '${task.action}', which is not registered`)
        return action
      })
      this.#resolved.set(workflow, actions)
    }
    return actions
  }

  /** Sees every run's events. */
  on(type: 'event', listener: (event: RunEvent) => void): this {
    if (type !== 'event') throw new TypeError(`unknown engine event '${String(type)}': only 'event'`)
    this.#listeners.push(listener)
    return this
  }

  start(workflow: WorkflowDefinition, input?: unknown, options: StartOptions = {}): Run {
    this.#open()
    const actions = this.#actionsOf(workflow)
    const problems = inputProblems(workflow.input, input)
    if (problems.length > 0) {
      throw new InputError(`workflow '${workflow.name}' needs different input:\n${problems.map((p) => `  ${p}`).join('\n')}`, problems)
    }
    if (options.timeout !== undefined && !(options.timeout >= 0)) throw new TypeError('timeout must be a non-negative number of milliseconds')
    if (options.runId !== undefined && this.#runs.has(options.runId)) throw new InputError(`run id '${options.runId}' is already running in this engine`)
    const meter = options.account === undefined ? undefined : this.#accounts.runMeter(workflow, options.account)
    const run = new Run(workflow, input, {
      meter,
      runId: options.runId ?? (this.#store ? uuidv7() : randomUUID()),
      actions,
      listeners: this.#listeners,
      onEnd: this.#onEnd,
      signal: options.signal,
      timeoutMs: options.timeout,
      store: this.#store,
      durability: options.durability ?? this.#durability,
    })
    if (run.status === 'running') this.#runs.set(run.id, run)
    return run
  }

  /**
   * Goes on with a run that a dead process left `running` (see
   * {@link Engine.interruptedRuns}): its state is rebuilt from the latest
   * snapshot plus the journal after it; tasks and items that completed do
   * not run again; an attempt that was in flight counts as failed with an
   * `InterruptedError` (code `ARCFLOW_INTERRUPTED`) and is retried only
   * under its task's retry policy. Throws a `ResumeError` for a run that is
   * unknown, ended, live here, or of a workflow this engine has not loaded.
   *
   * @example
   * for (const { id } of await engine.interruptedRuns()) await engine.resume(id).result()
   */
  resume(runId: string, options: ResumeOptions = {}): Run {
    this.#open()
    if (!this.#store) throw new ResumeError(`cannot resume run ${runId}: the engine has no store (pass store: 'sqlite:PATH')`)
    if (this.#runs.has(runId)) throw new ResumeError(`run ${runId} is running in this engine`)
    // synchronous, because resume answers a Run at once (its public shape)
    // and rebuilds the run from the store on this thread anyway: the one
    // history read that waits (bounded) for this process's queued writes
    const record = this.#store.runInfoSync(runId)?.record
    if (!record) throw new ResumeError(`no run ${JSON.stringify(runId)} in the store`)
    if (record.status !== 'running') throw new ResumeError(`run ${runId} has ended (${record.status}): only an interrupted run can be resumed`)
    const workflow = options.workflow ?? this.#workflows.get(record.workflow)
    if (!workflow) throw new ResumeError(`run ${runId} is a run of workflow '${record.workflow}', which this engine has not loaded: load it first, or pass { workflow }`)
    if (options.timeout !== undefined && !(options.timeout >= 0)) throw new TypeError('timeout must be a non-negative number of milliseconds')
    const durability = options.durability ?? (this.#durability === 'none' ? 'batched' : this.#durability)
    const run = new Run(workflow, undefined, {
      meter: record.account === undefined ? undefined : this.#accounts.runMeter(workflow, record.account),
      runId,
      actions: this.#actionsOf(workflow),
      listeners: this.#listeners,
      onEnd: this.#onEnd,
      signal: options.signal,
      timeoutMs: options.timeout,
      store: this.#store,
      durability,
      resume: true,
    })
    if (run.status === 'running') this.#runs.set(run.id, run)
    return run
  }

  /**
   * An account's balance in credits (reservations in flight deducted); a
   * MeteringError for an unknown account. Synchronous: the meter holds
   * every account it has used in memory; one it has not yet is read once
   * from the store as committed now, which never waits (see `credit`).
   *
   * @example
   * if (engine.balance('acme') < 100) engine.credit('acme', 1_000, { key: 'top-up-7' })
   */
  balance(account: string): number {
    this.#open()
    return this.#accounts.balance(account)
  }

  /**
   * Adds credits to an account (creating it), once per `key`: the same key
   * again adds nothing (a retried top-up is safe). Synchronous and never
   * waiting: keys this engine credited are checked in memory (their writes
   * may still be queued), any other in the store as committed now.
   *
   * @example
   * engine.credit('acme', 1_000, { key: 'invoice-2026-11' })
   */
  credit(account: string, amount: number, options: { key: string }): Credit {
    this.#open()
    return this.#accounts.credit(account, amount, options)
  }

  /**
   * An account's latest ledger entries (charges and credits), newest first;
   * default limit 100. With a store, the ledger is read from the database
   * once this process's queued charges commit, off the JavaScript thread.
   *
   * @example
   * const entries = await engine.ledger('acme', { limit: 50, signal: AbortSignal.timeout(5_000) })
   */
  async ledger(account: string, options: { limit?: number } & ReadOptions = {}): Promise<LedgerEntry[]> {
    this.#open()
    return this.#accounts.ledger(account, options)
  }

  /** Starts a run and waits for its output. */
  run(workflow: WorkflowDefinition, input?: unknown, options?: StartOptions): Promise<unknown> {
    return this.start(workflow, input, options).result()
  }

  /** Queue depth, flushes and retries of the store, and live runs. */
  stats(): EngineStats {
    return { liveRuns: this.#runs.size, store: this.#store ? this.#store.stats() : null, cache: { ...this.#cache } }
  }

  /**
   * A run's status, output, error, task executions and events. A live run
   * is answered from memory (its own events: never a database read, never
   * a wait); any other is read from the store once this process's queued
   * writes commit, on a libuv thread. Undefined for an unknown run.
   *
   * @example
   * const info = await engine.getRun(id, { signal: AbortSignal.timeout(5_000) })
   */
  async getRun(id: string, options: ReadOptions = {}): Promise<RunInfo | undefined> {
    this.#open()
    if (options.signal?.aborted) return Promise.reject(new AbortedError('the read was aborted', { cause: options.signal.reason }))
    const live = this.#runs.get(id)
    if (live) {
      this.#cache.hits++
      // taken now, not in a later microtask: the answer is the run as it is at the call
      const history = live.history()
      return Promise.resolve({ id, workflow: live.workflow.name, status: live.status, live: true, tasks: executionsFromEvents(history), events: logsFromEvents(history) })
    }
    if (!this.#store) return Promise.resolve(undefined)
    this.#cache.misses++
    return this.#store.runInfo(id, options).then((stored) => (stored ? { ...stored.record, live: false, tasks: stored.tasks, events: stored.events } : undefined))
  }

  /**
   * Run history from the store, newest first (default limit 100), read off
   * the JavaScript thread once this process's queued writes commit.
   *
   * @example
   * const failed = await engine.runs({ status: 'failed', limit: 50 })
   */
  async runs(filter: { status?: string; workflow?: string; limit?: number } = {}, options: ReadOptions = {}): Promise<RunRecord[]> {
    this.#open()
    return this.#store ? this.#store.runs(filter, options) : []
  }

  /**
   * Runs the store has as `running` that no live run of this engine is:
   * left by a process that died (a read of the store, like `runs`).
   *
   * @example
   * for (const { id } of await engine.interruptedRuns()) await engine.resume(id).result()
   */
  async interruptedRuns(options: ReadOptions = {}): Promise<RunRecord[]> {
    this.#open()
    if (!this.#store) return []
    const running = await this.#store.runs({ status: 'running', limit: 1_000_000 }, options)
    // live now, when the answer arrives: a run started meanwhile is not interrupted
    return running.filter((run) => !this.#runs.has(run.id))
  }

  /** Resolves once every write queued so far is committed (at once in memory). */
  async flush(): Promise<void> {
    this.#open()
    if (this.#store) await this.#store.committed(this.#store.stats().enqueued)
  }

  /** Cancels every live run, waits for them to end, then flushes and closes the store. */
  async close(): Promise<void> {
    this.#closed = true
    this.#accounts.refuse()
    await Promise.all([...this.#runs.values()].map((run) => run.cancel()))
    this.#accounts.close()
    if (this.#store) {
      await this.#store.close()
      if (this.#exitFlush) process.off('exit', this.#exitFlush)
      for (const [signal, handler] of this.#signalHandlers) process.off(signal, handler)
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}
