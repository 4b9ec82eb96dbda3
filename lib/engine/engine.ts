/**
 * The engine: registers actions, loads workflows, starts and resumes runs,
 * and sees every run's events. In memory by default; with a store, runs
 * are journaled through the native write-behind queue. Its queue API is
 * its base's (`engine-queues.ts`); reads of runs are `run-reads.ts`'s, and
 * what builds a run (keyed starts included) the launcher's.
 */
import { randomUUID } from 'node:crypto'

import { EngineClosedError, InputError, QueueError, SignalError, WorkflowError } from '../errors'
import { Accounts, meterSettingsOf, type Credit, type LedgerEntry } from './accounts'
import type { Cost } from './metering'
import { loadWorkflow, loadWorkflowFile } from '../workflow/load'
import { inputProblems } from '../workflow/input'
import type { WorkflowDefinition } from '../workflow/model'
import type { Action } from './attempt'
import type { RunEvent } from './events'
import { acquireStore, type StoreLease } from '../store/shared'
import { DurableStore, silentLogger, type RunRecord } from '../store/store'
import { parseStoreUrl, type StoreTarget } from '../store/url'
import type { ReadOptions, RunFilter } from '../store/read'
import { Run, type Durability } from './run'
import { uuidv7 } from './run-id'
import { startOptionProblems } from './start-options'
import { GivenRunIds } from './run-ids'
import { RunReads } from './run-reads'
import { signalStoredRun } from './stored-signal'
import { WorkflowVersions } from './versions'
import { handleSignals, releaseSignals } from './shutdown'
import { builtinActions } from '../actions'
import { TaskResultCache } from './cache'
import { workflowCycle } from './subflows'
import { Launcher } from './launcher'
import { durabilityOf, maxDepthOf, requestedStoreSettings, retentionOf, STORE_DEFAULTS } from './engine-options'
import { StartKeys } from './idempotency'
import { subscribe } from '../queue/host'
import { QueueSide } from '../queue/side'
import { EngineQueues } from './engine-queues'

export type { ActionOptions, CreditStats, EngineOptions, EngineStats, ResumeOptions, RunInfo, StartOptions } from './engine-types'
import type { ActionOptions, EngineOptions, EngineStats, ResumeOptions, RunInfo, StartOptions } from './engine-types'

// defined beside the other error classes, so that a failure rebuilt from data can be one again
export { InputError } from '../errors'

/**
 * @example
 * const engine = new Engine()
 * engine.action('greet', async ({ name }) => `hello ${name}`)
 * const wf = engine.workflow({ name: 'hi', tasks: { greet: { action: 'greet', input: { name: '{{ input.name }}' } } }, output: '{{ tasks.greet.result }}' })
 * await engine.run(wf, { name: 'Ada' }) // 'hello Ada'
 */
export class Engine extends EngineQueues {
  readonly #actions = new Map<string, Action>()
  readonly #listeners: Array<(event: RunEvent) => void> = []
  /** Makes and holds this engine's runs (`launcher.ts`). */
  readonly #launcher: Launcher
  /** Reads of runs, from live runs (hits) or the store (misses). */
  readonly #reads: RunReads
  /** Metering: accounts, costs, the ledger. */
  readonly #accounts: Accounts
  /** Workflows loaded by this engine, by name: what `resume` runs. */
  readonly #workflows = new Map<string, WorkflowDefinition>()
  /** Caller-given run ids: which ones are taken. */
  readonly #given: GivenRunIds
  /** The store's URL, for the queue's own connection. */
  readonly #target: StoreTarget | undefined
  /** Queues and workers (`queue/side.ts`), on first use. */
  #queues: QueueSide | undefined
  #closed = false
  /** This engine's reference to its store, shared with the other engines of this process on the same database. */
  readonly #lease: StoreLease | undefined
  readonly #store: DurableStore | undefined
  /** Workflow versions written to the store, and rebuilt for resumes. */
  readonly #versions: WorkflowVersions | undefined
  readonly #durability: Durability
  readonly #exitFlush: (() => void) | undefined
  /** SIGINT / SIGTERM handled for this engine (see `shutdown.ts`). */
  #signals = false
  /** The task result cache (`cache:` on action tasks). */
  readonly cache: TaskResultCache

  /**
   * @example
   * const engine = new Engine({ store: 'sqlite:./arcflow.db', durability: 'batched', builtins: true })
   */
  constructor(options: EngineOptions = {}) {
    super()
    const target = parseStoreUrl(options.store ?? 'memory')
    this.#durability = durabilityOf(options, target)
    this.#target = target
    if (target !== undefined) {
      // engines of this process on one file share its store and meter (see `store/shared.ts`)
      this.#lease = acquireStore(target, requestedStoreSettings(options), STORE_DEFAULTS, meterSettingsOf(options.metering), options.logger ?? silentLogger)
      this.#store = this.#lease.store
      this.#versions = new WorkflowVersions(this.#store)
      // a normal exit commits everything queued (the flush thread would die with the process)
      const store = this.#store
      this.#exitFlush = (): void => store.closeSync()
      process.on('exit', this.#exitFlush)
      if (options.handleSignals ?? true) {
        handleSignals(this)
        this.#signals = true
      }
    }
    this.#accounts = new Accounts(options.metering, this.#lease)
    this.#given = this.#lease?.ids ?? new GivenRunIds(undefined)
    this.cache = new TaskResultCache(this.#store)
    this.#launcher = new Launcher({
      actions: this.#actions,
      workflows: this.#workflows,
      listeners: this.#listeners,
      accounts: this.#accounts,
      cache: this.cache,
      given: this.#given,
      lease: this.#lease,
      store: this.#store,
      versions: this.#versions,
      durability: this.#durability,
      maxDepth: maxDepthOf(options),
      keys: this.#lease?.startKeys ?? new StartKeys(undefined),
      retentionMs: retentionOf(options),
      open: () => this.#open(),
      // this process's result waiters (the store has the end once this process's writes commit)
      ended: (runId) => this.#queues?.ended(runId),
    })
    this.#reads = new RunReads(this.#launcher, this.#store)
    const builtins = options.builtins ?? false
    if (builtins !== false) {
      for (const [name, fn] of Object.entries(builtinActions(builtins === true ? {} : builtins))) this.action(name, fn)
    }
  }

  /**
   * Registers an action (an async function of the task's rendered input).
   * `I` and `O` are what you declare the input and result to be (the input
   * is `unknown` unless you say; the workflow's template renders it).
   *
   * @example
   * engine.action('greet', async ({ name }: { name: string }) => `hello ${name}`)
   * engine.action<{ n: number }, number>('double', ({ n }) => n * 2)
   */
  action<I = unknown, O = unknown>(name: string, fn: Action<I, O>, options: ActionOptions<I> = {}): this {
    if (typeof name !== 'string' || name === '') throw new TypeError('action name must be a non-empty string')
    if (typeof fn !== 'function') throw new TypeError(`action '${name}' must be a function`)
    // stored untyped: the engine hands each action whatever its template rendered
    this.#accounts.setCost(name, options.cost as Cost | undefined)
    this.#actions.set(name, fn as Action)
    this.#launcher.actionsChanged()
    this.#versions?.actionsChanged()
    return this
  }

  /**
   * Loads a workflow from a definition object or YAML/JSON text; checks its
   * actions are registered. With a store, its version is kept there (once
   * per version): a changed definition under the same name is a new version.
   */
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
    const cycle = workflowCycle(workflow, (name) => (name === workflow.name ? workflow : this.#workflows.get(name)))
    if (cycle) {
      const message = `workflow '${workflow.name}' calls itself through sub-workflows: ${cycle.join(' → ')}`
      throw new WorkflowError(message, [{ path: 'tasks', message, hint: 'break the cycle, or loop inside one workflow (a transition back to a task, bounded by step_limit)' }])
    }
    this.#workflows.set(workflow.name, workflow)
    if (!this.#closed) this.#versions?.record(workflow)
    return workflow
  }

  /** Sees every run's events. */
  on(type: 'event', listener: (event: RunEvent) => void): this {
    if (type !== 'event') throw new TypeError(`unknown engine event '${String(type)}': only 'event'`)
    this.#listeners.push(listener)
    return this
  }

  /**
   * Starts a run of `workflow` (checked input, then its start tasks on a
   * later tick, so listeners attached now see every event). Every option is
   * checked first (an `InputError` leaves nothing behind); a `runId` already
   * taken, by a live run of this engine or a run in its store, is a
   * `RunExistsError`. `O` is the output you expect: `run.result()` resolves
   * with it (unchecked).
   *
   * @example
   * const run = engine.start<string>(wf, { name: 'Ada' }, { runId: 'order-42', timeout: 5_000 })
   * const output: string = await run.result()
   */
  start<O = unknown>(workflow: WorkflowDefinition, input?: unknown, options: StartOptions = {}): Run<O> {
    this.#open()
    const optionProblems = startOptionProblems(options)
    if (optionProblems.length > 0) throw new InputError(`bad start options:\n${optionProblems.map((p) => `  ${p}`).join('\n')}`, optionProblems)
    const actions = this.#launcher.actionsOf(workflow)
    const problems = inputProblems(workflow.input, input)
    if (problems.length > 0) {
      throw new InputError(`workflow '${workflow.name}' needs different input:\n${problems.map((p) => `  ${p}`).join('\n')}`, problems)
    }
    const durability = options.durability ?? this.#durability
    const runId = options.runId ?? (this.#store ? uuidv7() : randomUUID())
    // a keyed start answers its key's run, or claims the key for `runId` (see idempotency.ts)
    if (options.idempotencyKey !== undefined) return this.#launcher.launchKeyed<O>(options.idempotencyKey, workflow, actions, input, options, runId, durability)
    if (options.runId !== undefined) this.#given.claim(options.runId, this.#launcher.runs.has(options.runId), durability !== 'none')
    return this.#launcher.launch<O>(workflow, actions, input, options, runId, durability, undefined)
  }

  /**
   * Goes on with a run that a dead process left `running` (see
   * {@link Engine.interruptedRuns}): its state is rebuilt from the latest
   * snapshot plus the journal after it; tasks and items that completed do
   * not run again; an attempt that was in flight counts as failed with an
   * `InterruptedError` (code `ARCFLOW_INTERRUPTED`) and is retried only
   * under its task's retry policy. The run goes on with the version of
   * its workflow it started with: when the definition loaded (or passed as
   * `workflow`) has changed since, the run's own version is rebuilt from
   * the store with this engine's actions; `allowChangedDefinition: true`
   * runs the loaded one instead. Throws a `ResumeError` for a run that is
   * unknown, ended, live here, of a workflow this engine has not loaded, or
   * whose version the store lacks (saying which tasks changed).
   *
   * @example
   * for (const { id } of await engine.interruptedRuns()) await engine.resume(id).result()
   * engine.resume(id, { workflow: edited, allowChangedDefinition: true })
   */
  resume<O = unknown>(runId: string, options: ResumeOptions = {}): Run<O> {
    return this.#launcher.resume<O>(runId, options, undefined)
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

  /**
   * Starts a run and waits for its output (`O`, as for {@link Engine.start}).
   *
   * @example
   * const greeting = await engine.run<string>(wf, { name: 'Ada' })
   */
  run<O = unknown>(workflow: WorkflowDefinition, input?: unknown, options?: StartOptions): Promise<O> {
    return this.start<O>(workflow, input, options).result()
  }

  /** Queue depth, flushes and retries of the store, and live runs. */
  stats(): EngineStats {
    return { liveRuns: this.#launcher.runs.size, store: this.#store ? this.#store.stats() : null, cache: { ...this.#reads.counts }, credit: this.#accounts.creditStats() }
  }

  /**
   * Sends signal `name` with `payload` to run `runId`: to a run live in
   * this engine as {@link Run.signal} does; to a durable run no process of
   * this store holds now (interrupted), kept in the store and delivered
   * when it resumes. Rejects with a `SignalError` for a run that is
   * unknown or has ended.
   *
   * @example
   * await engine.signal(runId, 'approval', { ok: true, by: 'ana' })
   */
  signal(runId: string, name: string, payload: unknown = null): Promise<void> {
    this.#open()
    const live = this.#launcher.runs.get(runId)
    if (live) return live.signal(name, payload)
    if (!this.#store) {
      const why = typeof name === 'string' && name !== '' ? `signal '${name}': no run ${JSON.stringify(runId)} in this engine` : `a signal's name must be a non-empty string, got ${JSON.stringify(name) ?? String(name)}`
      return Promise.reject(new SignalError(why))
    }
    return signalStoredRun(this.#store, this.#target?.key(), this.#durability === 'sync', runId, name, payload)
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
    return this.#reads.runInfo(id, options)
  }

  /**
   * Run history from the store, newest first (default limit 100), read off
   * the JavaScript thread once this process's queued writes commit.
   *
   * @example
   * const failed = await engine.runs({ status: 'failed', limit: 50 })
   */
  async runs(filter: RunFilter = {}, options: ReadOptions = {}): Promise<RunRecord[]> {
    this.#open()
    return this.#reads.runs(filter, options)
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
    return this.#reads.interrupted(options)
  }

  /** @internal The queue side, given what it uses of this engine (`queue/host.ts`); queues need a store. */
  protected override queueSide(): QueueSide {
    this.#open()
    const target = this.#target
    if (!this.#store || !target) throw new QueueError("queues need a store: pass store: 'sqlite:PATH' (or a PostgreSQL URL)")
    return (this.#queues ??= new QueueSide({
      store: this.#store,
      storeKey: target.key(),
      storeUrl: target.url,
      open: () => this.#open(),
      workflow: (name) => this.#workflows.get(name),
      live: (id) => this.#launcher.runs.get(id),
      startClaimed: (workflow, input, runId, account) => this.#launcher.startClaimed(workflow, input, runId, account),
      resumeClaimed: (runId, stored) => this.#launcher.resume(runId, {}, undefined, stored ?? null),
      listen: (listener) => subscribe(this.#listeners, listener),
    }))
  }

  /** Resolves once every write queued so far is committed (at once in memory). */
  async flush(): Promise<void> {
    this.#open()
    if (this.#store) await this.#store.committed(this.#store.stats().enqueued)
  }

  /**
   * Cancels every live run, waits for them to end, then gives back this
   * engine's reference to its store: the last engine of this process on
   * the store flushes and closes it; an earlier one leaves it open for the others.
   */
  async close(): Promise<void> {
    this.#closed = true
    this.#accounts.refuse()
    // a worker's runs are given back for another worker to take over, not cancelled
    await this.#queues?.close()
    await Promise.all([...this.#launcher.runs.values()].map((run) => run.cancel()))
    this.#accounts.close()
    if (this.#lease) {
      await this.#lease.release()
      if (this.#exitFlush) process.off('exit', this.#exitFlush)
      if (this.#signals) releaseSignals(this)
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}
