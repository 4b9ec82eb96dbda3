/**
 * The engine: registers actions, loads workflows, starts and resumes runs,
 * and sees every run's events. In memory by default; with a store, runs
 * are journaled through the native write-behind queue.
 */
import { randomUUID } from 'node:crypto'

import { AbortedError, EngineClosedError, InputError, QueueError, SignalError, WorkflowError } from '../errors'
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
import { checkRunFilter, type ReadOptions, type RunFilter } from '../store/read'
import { Run, type CancelPolicy, type Durability } from './run'
import { uuidv7 } from './run-id'
import { startOptionProblems } from './start-options'
import { GivenRunIds } from './run-ids'
import { liveRunInfo } from './history'
import { signalStoredRun } from './stored-signal'
import { WorkflowVersions } from './versions'
import { handleSignals, releaseSignals } from './shutdown'
import { builtinActions } from '../actions'
import type { RunStatus } from './statuses'
import { TaskResultCache } from './cache'
import { workflowCycle } from './subflows'
import { Launcher } from './launcher'
import { durabilityOf, maxDepthOf, requestedStoreSettings, retentionOf, STORE_DEFAULTS } from './engine-options'
import { StartKeys } from './idempotency'
import { subscribe } from '../queue/host'
import type { QueueHub } from '../queue/hub'
import { QueueSide } from '../queue/side'
import type { CancelOutcome } from '../queue/cancel'
import type { Worker } from '../queue/worker'
import type { Enqueued, EnqueueOptions, ResultOptions, WorkOptions } from '../queue/options'

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
export class Engine {
  readonly #actions = new Map<string, Action>()
  readonly #listeners: Array<(event: RunEvent) => void> = []
  /** Makes and holds this engine's runs (`launcher.ts`). */
  readonly #launcher: Launcher
  /** History reads served from live runs (hits) or from the store (misses). */
  readonly #cache = { hits: 0, misses: 0 }
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
  readonly #retentionMs: number
  readonly #keys: StartKeys

  /**
   * @example
   * const engine = new Engine({ store: 'sqlite:./arcflow.db', durability: 'batched', builtins: true })
   */
  constructor(options: EngineOptions = {}) {
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
    this.#keys = this.#lease?.startKeys ?? new StartKeys(undefined)
    this.#retentionMs = retentionOf(options)
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
      open: () => this.#open(),
      // this process's result waiters (the store has the end once this process's writes commit)
      ended: (runId) => this.#queues?.ended(runId),
    })
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
    const key = options.idempotencyKey
    const durable = this.#store !== undefined && durability !== 'none'
    if (key !== undefined) {
      // a durable start claims the key in the store for `runId` (see idempotency.ts)
      const found = this.#keys.answer(key, runId, this.#retentionMs, durable)
      if (found instanceof Run) return found as Run<O>
      if (found) return this.#launcher.keyed<O>(workflow, found as RunRecord)
    }
    if (key === undefined) {
      if (options.runId !== undefined) this.#given.claim(options.runId, this.#launcher.runs.has(options.runId), durability !== 'none')
      return this.#launcher.launch<O>(workflow, actions, input, options, runId, durability, undefined)
    }
    let run: Run<O>
    try {
      if (options.runId !== undefined) this.#given.claim(options.runId, this.#launcher.runs.has(options.runId), durability !== 'none')
      run = this.#launcher.launch<O>(workflow, actions, input, options, runId, durability, undefined)
    } catch (error) {
      // the key claimed for `runId` goes back: no run of it exists (a failed give-back only makes the key wait out its orphan time)
      try {
        this.#keys.abandoned(key, runId, durable)
      } catch {
        // the start's own error is the one to throw
      }
      throw error
    }
    // a run that failed at once is kept too: the next start with its key supersedes it
    this.#keys.started(key, run, durable)
    return run
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
    return { liveRuns: this.#launcher.runs.size, store: this.#store ? this.#store.stats() : null, cache: { ...this.#cache }, credit: this.#accounts.creditStats() }
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
    if (options.signal?.aborted) return Promise.reject(new AbortedError('the read was aborted', { cause: options.signal.reason }))
    const live = this.#launcher.runs.get(id)
    if (live) {
      this.#cache.hits++
      // taken now, not in a later microtask: the answer is the run as it is at the call
      return Promise.resolve(liveRunInfo(live))
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
  async runs(filter: RunFilter = {}, options: ReadOptions = {}): Promise<RunRecord[]> {
    this.#open()
    checkRunFilter(filter)
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
    // a waiting run (everything parked when its process stopped) is interrupted as much
    const [active, parked] = await Promise.all(['running', 'waiting'].map((status) => this.#store!.runs({ status: status as RunStatus, limit: 1_000_000 }, options)))
    const running = [...active!, ...parked!]
    // live now, when the answer arrives: a run started meanwhile is not interrupted
    // a child is resumed by its parent (which finds it by its id), not on its own
    return running.filter((run) => !this.#launcher.holds(run.id) && run.parentId === undefined)
  }

  /**
   * Writes a run of `workflow` (a loaded one, or a name: a producer needs
   * no actions) as `queued`, for a worker of any process to run; every
   * option is checked first. `key` makes it idempotent: the same key
   * answers the run it made (`created: false`), whatever its state.
   *
   * @example
   * const { id } = await engine.enqueue('etl', { day: '2026-11-30' }, { queue: 'default', key: 'etl-2026-11-30', delay: '5s' })
   */
  async enqueue(workflow: string | WorkflowDefinition, input?: unknown, options?: EnqueueOptions): Promise<Enqueued> {
    return this.#queueSide().enqueue(workflow, input, options)
  }

  /**
   * Enqueues one run per input, all with the same options (no `key`: a key
   * names one run), 5,000 runs per transaction; answers in the inputs'
   * order. Every input is checked before anything is written; a database
   * failure may leave earlier transactions' runs written. Concurrent
   * `enqueue` calls are group-committed too, so this is for a batch in hand.
   *
   * @example
   * const runs = await engine.enqueueMany('etl', days.map((day) => ({ day })), { queue: 'nightly' })
   */
  async enqueueMany(workflow: string | WorkflowDefinition, inputs: unknown[], options?: Omit<EnqueueOptions, 'key'>): Promise<Enqueued[]> {
    return this.#queueSide().enqueueMany(workflow, inputs, options)
  }

  /**
   * Starts a worker: it claims runs of `queues` (default `['default']`) up
   * to `concurrency` (64) and runs them with this engine's workflows and
   * actions, under a lease (`'30s'`) renewed every third of it. See `Worker`.
   *
   * @example
   * const worker = engine.work({ queues: ['default'], concurrency: 64 })
   * worker.on('error', (e) => log.warn(e))
   * process.once('SIGTERM', () => void worker.stop({ drain: true }))
   */
  work(options?: WorkOptions): Worker {
    return this.#queueSide().work(options)
  }

  /**
   * The output of run `id`, whichever process runs it: waits until it
   * ends; rejects like `run.result()` (`RunFailedError`,
   * `RunStoppedError`), with an `AbortedError` on `signal` or `timeout`.
   *
   * @example
   * const output = await engine.result(id, { timeout: '30s' })
   */
  async result<O = unknown>(id: string, options?: ResultOptions): Promise<O> {
    return this.#queueSide().result<O>(id, options)
  }

  /**
   * Cancels run `id` whichever process holds it (default policy
   * `cancel_running`): a queued run ends `cancelled` before it starts; a
   * running one is cancelled by its worker.
   *
   * @example
   * await engine.cancel(id, { policy: 'allow_finish' })
   */
  async cancel(id: string, options?: { policy?: CancelPolicy }): Promise<CancelOutcome> {
    return this.#queueSide().cancel(id, options)
  }

  /**
   * Sets how many runs of queue `name` run at once across all workers
   * (`concurrency: null` lifts the limit).
   *
   * @example
   * await engine.queue('llm', { concurrency: 10 })
   */
  async queue(name: string, options: { concurrency: number | null }): Promise<void> {
    return this.#queueSide().limit(name, options)
  }

  /** @internal This process's wake-ups for the engine's store (`queue/hub.ts`): what `arcflow serve --queue` streams by. */
  queueHub(): QueueHub {
    return this.#queueSide().hub()
  }

  /** The queue side, given what it uses of this engine (`queue/host.ts`); queues need a store. */
  #queueSide(): QueueSide {
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
