/**
 * What makes the engine's `Run`s: each workflow's actions resolved once,
 * a new run (started, claimed by a worker, or a child), a resumed one, and
 * the live runs by id. The engine is the public face over it; this is the
 * one place a `Run` is built.
 */
import { InputError, ResumeError, RunExistsError } from '../errors'
import { loadWorkflow } from '../workflow/load'
import { inputProblems } from '../workflow/input'
import type { WorkflowDefinition } from '../workflow/model'
import type { DurableStore, RunRecord, StoredRun } from '../store/store'
import type { StoreLease } from '../store/shared'
import type { Accounts } from './accounts'
import type { Action } from './attempt'
import type { RunEvent } from './events'
import type { GivenRunIds } from './run-ids'
import type { StartKeys } from './idempotency'
import type { ResumeOptions, StartOptions } from './engine-types'
import type { ParentLink } from './run-types'
import type { TaskResultCache } from './cache'
import type { WorkflowVersions } from './versions'
import { Run, type Durability } from './run'
import { notAnAction } from './kinds'
import { runIdProblem, startOptionProblems } from './start-options'
import { isLive } from './statuses'
import { cachedAction } from './cache'
import { workflowAction, type SubflowHost } from './subflows'

/** What the launcher is given by its engine. */
export interface LauncherParts {
  actions: ReadonlyMap<string, Action>
  workflows: ReadonlyMap<string, WorkflowDefinition>
  listeners: Array<(event: RunEvent) => void>
  accounts: Accounts
  cache: TaskResultCache
  given: GivenRunIds
  lease: StoreLease | undefined
  store: DurableStore | undefined
  versions: WorkflowVersions | undefined
  durability: Durability
  maxDepth: number
  /** Idempotency keys and how long one answers its run. */
  keys: StartKeys
  retentionMs: number
  /** Refuses once the engine is closing (`EngineClosedError`). */
  open: () => void
  /** A run ended (after this launcher forgot it). */
  ended: (runId: string) => void
}

export class Launcher {
  /** Live runs by id. */
  readonly runs = new Map<string, Run>()
  /** Each workflow's actions by task index, resolved once (until an action is registered again). */
  #resolved = new WeakMap<WorkflowDefinition, Action[]>()
  readonly #p: LauncherParts
  readonly #onEnd = (runId: string): void => {
    if (this.runs.delete(runId)) this.#p.lease?.live.delete(runId)
    this.#p.given.ended(runId)
    this.#p.ended(runId)
  }

  constructor(parts: LauncherParts) {
    this.#p = parts
  }

  /** An action was registered: resolve every workflow's actions again. */
  actionsChanged(): void {
    this.#resolved = new WeakMap()
  }

  actionsOf(workflow: WorkflowDefinition): Action[] {
    let actions = this.#resolved.get(workflow)
    if (!actions) {
      actions = workflow.taskList.map((task) => {
        if (task.kind === 'workflow') {
          if (!this.#p.workflows.has(task.workflow!)) throw new InputError(`task '${task.name}' runs workflow '${task.workflow}', which is not loaded`)
          return workflowAction(this.#subflows, task.name, task.workflow!)
        }
        if (task.kind !== 'action') return notAnAction // waits and sleeps call nothing
        const action = this.#p.actions.get(task.action)
        if (action && task.cache) return cachedAction(this.#p.cache, workflow, task, action, (id) => this.runs.get(id))
        if (!action) throw new InputError(`task '${task.name}' uses action '${task.action}', which is not registered`)
        return action
      })
      this.#resolved.set(workflow, actions)
    }
    return actions
  }

  /**
   * A start with idempotency key `key`: the run the key answers, or else
   * a new run as `launch` makes it, the key claimed for `runId` (given
   * back if the start throws: no run of it exists).
   */
  launchKeyed<O>(key: string, workflow: WorkflowDefinition, actions: Action[], input: unknown, options: StartOptions, runId: string, durability: Durability): Run<O> {
    const durable = this.#p.store !== undefined && durability !== 'none'
    const keys = this.#p.keys
    // a durable start claims the key in the store for `runId` (see idempotency.ts)
    const found = keys.answer(key, runId, this.#p.retentionMs, durable)
    if (found instanceof Run) return found as Run<O>
    if (found) return this.#keyed<O>(workflow, found as RunRecord)
    let run: Run<O>
    try {
      if (options.runId !== undefined) this.#p.given.claim(options.runId, this.runs.has(options.runId), durability !== 'none')
      run = this.launch<O>(workflow, actions, input, options, runId, durability, undefined)
    } catch (error) {
      // the key claimed for `runId` goes back (a failed give-back only makes the key wait out its orphan time)
      try {
        keys.abandoned(key, runId, durable)
      } catch {
        // the start's own error is the one to throw
      }
      throw error
    }
    // a run that failed at once is kept too: the next start with its key supersedes it
    keys.started(key, run, durable)
    return run
  }

  /** A key's run that this process does not hold: ended (its outcome), or running elsewhere or interrupted (an error). */
  #keyed<O>(workflow: WorkflowDefinition, record: RunRecord): Run<O> {
    if (isLive(record.status)) {
      throw new RunExistsError(record.id, `${record.status} outside this engine (started with this idempotency key): wait for it, or resume it if its process died`)
    }
    return new Run<O>(workflow, undefined, { runId: record.id, actions: [], listeners: [], ended: { status: record.status, output: record.output, error: undefined } })
  }

  /** Whether run `id` is live in this process (this engine, or another on its store). */
  holds(id: string): boolean {
    return this.runs.has(id) || this.#p.lease?.live.has(id) === true
  }

  launch<O>(workflow: WorkflowDefinition, actions: Action[], input: unknown, options: StartOptions, runId: string, durability: Durability, parent: ParentLink | undefined): Run<O> {
    const meter = options.account === undefined ? undefined : this.#p.accounts.runMeter(workflow, options.account)
    // a workflow loaded elsewhere (loadWorkflow): its version lands before its run
    this.#p.versions?.record(workflow)
    const run = new Run<O>(workflow, input, {
      meter,
      runId,
      parent,
      actions,
      listeners: this.#p.listeners,
      onEnd: this.#onEnd,
      signal: options.signal,
      timeoutMs: options.timeout === Infinity ? undefined : options.timeout,
      store: this.#p.store,
      durability,
    })
    this.#track(run)
    if (isLive(run.status) && options.runId !== undefined && durability !== 'none' && this.#p.store) this.#p.given.started(run.id)
    return run
  }

  /**
   * A worker's claimed run, under its own id: its row (queued, then
   * claimed) exists, which is the one case the run-id reuse check accepts.
   */
  startClaimed<O>(workflow: WorkflowDefinition, input: unknown, runId: string, account: string | undefined): Run<O> {
    this.#p.open()
    const actions = this.actionsOf(workflow)
    const problems = inputProblems(workflow.input, input)
    if (problems.length > 0) throw new InputError(`workflow '${workflow.name}' needs different input:\n${problems.map((p) => `  ${p}`).join('\n')}`, problems)
    const durability = this.#p.durability === 'none' ? 'batched' : this.#p.durability
    return this.launch<O>(workflow, actions, input, account === undefined ? {} : { account }, runId, durability, undefined)
  }

  /** `preread`: the run as read beforehand (a worker's takeover reads it off the JS thread; null: not found); else read here. */
  resume<O>(runId: string, options: ResumeOptions, parent: ParentLink | undefined, preread?: StoredRun | null): Run<O> {
    this.#p.open()
    const idProblem = runIdProblem(runId, 'runId')
    const optionProblems = idProblem ? [idProblem, ...startOptionProblems(options, true)] : startOptionProblems(options, true)
    if (optionProblems.length > 0) throw new InputError(`bad resume arguments:\n${optionProblems.map((p) => `  ${p}`).join('\n')}`, optionProblems)
    const store = this.#p.store
    if (!store) throw new ResumeError(`cannot resume run ${runId}: the engine has no store (pass store: 'sqlite:PATH' or 'postgres://...')`)
    if (this.runs.has(runId)) throw new ResumeError(`run ${runId} is running in this engine`)
    if (this.#p.lease?.live.has(runId)) throw new ResumeError(`run ${runId} is running in another engine on this store`)
    // synchronous, because resume answers a Run at once (its public shape)
    // and rebuilds the run from the store on this thread anyway: the one
    // history read that waits (bounded) for this process's queued writes
    const stored = preread === undefined ? store.runInfoSync(runId) : (preread ?? undefined)
    if (!stored) throw new ResumeError(`no run ${JSON.stringify(runId)} in the store`)
    const { record } = stored
    if (!isLive(record.status)) throw new ResumeError(`run ${runId} has ended (${record.status}): only an interrupted run can be resumed`)
    const versions = this.#p.versions!
    const workflow = versions.pickForResume(stored, {
      loaded: options.workflow ?? this.#p.workflows.get(record.workflow),
      allowChangedDefinition: options.allowChangedDefinition === true,
      build: (definition) => loadWorkflow(definition, { actions: this.#p.actions.keys() }),
    })
    versions.record(workflow)
    const durability = options.durability ?? (this.#p.durability === 'none' ? 'batched' : this.#p.durability)
    const run = new Run<O>(workflow, undefined, {
      meter: record.account === undefined ? undefined : this.#p.accounts.runMeter(workflow, record.account),
      runId,
      actions: this.actionsOf(workflow),
      listeners: this.#p.listeners,
      onEnd: this.#onEnd,
      signal: options.signal,
      timeoutMs: options.timeout === Infinity ? undefined : options.timeout,
      store,
      durability,
      resume: true,
      parent,
    })
    this.#track(run)
    return run
  }

  #track(run: Run): void {
    if (!isLive(run.status)) return
    this.runs.set(run.id, run)
    this.#p.lease?.live.add(run.id)
  }

  #link(parent: Run, task: string): ParentLink {
    return { id: parent.id, task, depth: parent.depth, log: parent.eventLog }
  }

  /**
   * A child run (account, durability and store: its parent's). Not through
   * `launch`: its id is its parent's to give (no caller's id to keep track
   * of) and it has no options of its own.
   */
  #startChild(workflow: WorkflowDefinition, input: unknown, childId: string, parent: Run, task: string, signal: AbortSignal | undefined): Run {
    const durability = parent.durable ? (parent.sync ? 'sync' : 'batched') : 'none'
    const meter = parent.meter && this.#p.accounts.runMeter(workflow, parent.meter.accountName)
    this.#p.versions?.record(workflow)
    const child = new Run(workflow, input, { meter, runId: childId, parent: this.#link(parent, task), deferred: true, actions: this.actionsOf(workflow), listeners: this.#p.listeners, onEnd: this.#onEnd, signal, store: this.#p.store, durability })
    if (this.#p.store && durability !== 'none') {
      try {
        this.#p.store.native.linkRun(childId, parent.id, task, null)
      } catch (error) {
        // the store refused (closed, failed): the child never begins, so it must not stay live
        child.abandon(error as Error, 'released')
        throw error
      }
    }
    this.#track(child)
    return child
  }

  /** What workflow tasks need (`subflows.ts`). */
  readonly #subflows: SubflowHost<Run> = {
    maxDepth: () => this.#p.maxDepth,
    runOf: (id) => this.runs.get(id),
    workflowOf: (name) => this.#p.workflows.get(name),
    start: (workflow, input, childId, parent, task, signal) => this.#startChild(workflow, input, childId, parent, task, signal),
    find: async (childId) => {
      const live = this.runs.get(childId)
      if (live) return live
      if (!this.#p.store) return undefined
      return (await this.#p.store.runInfo(childId))?.record
    },
    resume: (childId, parent, task, signal) => this.resume(childId, { signal }, this.#link(parent, task)),
  }
}
