/**
 * A run's state, what it holds in flight that its end must stop (timers,
 * the abort signal, parked waits), and how it ends: failed, succeeded,
 * cancelled, timed out (announced once durable), or abandoned by a worker
 * that lost it. The base of `Run` (run.ts), beneath the steps that follow
 * the core's answers (run-steps.ts): still one object per run, split by
 * inheritance rather than into helper objects, so that a run costs no
 * allocation, closure or indirection more than one class did. Its fields
 * are `protected` (not `#private`) for that reason: the layers above read
 * them directly.
 */
import { inspect, type InspectOptions } from 'node:util'

import { native } from '../binding'
import type { WorkflowDefinition } from '../workflow/model'
import type { DurableStore } from '../store/store'
import type { Action } from './attempt'
import type { RunMeter } from './metering'
import { EventLog, type NewEvent, type RunEvent } from './events'
import { journalEvent } from './journal-events'
import type { Failure } from './failure'
import type { Completion } from './run-answers'
import { RunFailedError, RunStoppedError } from './run-errors'
import type { CancelPolicy, RunOptions, RunStatus } from './run-types'
import { RunOutcome } from './run-outcome'
import { RunWaits } from './run-waits'
import { LinkedSignal } from './signals'
import type { Mailbox } from './mailbox'
import type { Deadline } from './deadlines'
import type { ChildRun } from './subflows'

/** A live child run, as its parent's end and abandonment reach it. */
type LiveChild = ChildRun & Pick<RunLifecycle, 'cancel' | 'abandon'>

/** A run as `JSON.stringify` and `console.log` show it. */
export interface RunView {
  id: string
  workflow: string
  status: RunStatus
  /** A sub-workflow's parent run and task. */
  parentId?: string
  parentTask?: string
}

/** Handles of live runs in the native registry (per thread, like the registry). */
let nextHandle = 0

export abstract class RunLifecycle {
  readonly id: string
  readonly workflow: WorkflowDefinition
  /** @internal */
  readonly handle: number
  /** @internal The core holds no state of the run any more (ended, abandoned, or never made). */
  protected released = false
  /** @internal */
  crossings = 0
  /** @internal Timers of its tasks, cleared when the run ends. */
  protected timers: Set<ReturnType<typeof setTimeout>> | undefined
  /** @internal The recorded status (`status` reads `waiting` from it and the parked waits). */
  protected runStatus: RunStatus = 'running'
  /** @internal The run's event log (a child's events are kept in it too). */
  readonly eventLog: EventLog
  /** @internal Made on first use: most runs' handlers never read their signal. */
  protected linkedSignal: LinkedSignal | undefined
  /** @internal */
  protected readonly actions: Action[]
  /** @internal */
  protected readonly onEnd: ((runId: string) => void) | undefined
  /** @internal */
  protected readonly store: DurableStore | undefined
  /** @internal `sync` durability (see TaskHost). */
  readonly sync: boolean
  /** @internal The run journals its executions (see TaskHost). */
  readonly durable: boolean
  /** @internal Metered runs: the meter (see TaskHost). */
  readonly meter: RunMeter | undefined
  /** @internal Activations in flight, and waits for the store or a credit lease. */
  protected active = 0
  /** @internal Activations this process started (for stats: the core counts them against the step limit). */
  protected steps = 0
  /** @internal */
  protected stopping = false
  /**
   * @internal The core has recorded the run's end (`[3, output]` or `[4, error]`):
   * a cancel or timeout that comes while it waits for the commit does not
   * change it (the store will say that outcome). `batched` reports it at
   * once; `sync` once it is committed.
   */
  protected ending: unknown[] | undefined
  /**
   * @internal `sync`: the run has ended (`runStatus`) but its end is not committed yet:
   * nobody hears of it (status, result, end event) until it is.
   */
  protected unsettled = false
  /** @internal The run's timeout. */
  protected timer: ReturnType<typeof setTimeout> | undefined
  /** @internal */
  protected readonly outcome = new RunOutcome()
  /** @internal A child's parent run and task (undefined: a top-level run). */
  readonly parentId: string | undefined
  readonly parentTask: string | undefined
  /** @internal Sub-workflow nesting: 0 for a top-level run. */
  readonly depth: number
  /** @internal The run was resumed (its workflow tasks look for the children they started). */
  readonly resumed: boolean
  /** @internal Made on first use: most runs start no child. */
  protected childRuns: Set<LiveChild> | undefined
  /** @internal Its mailbox, parked waits and waiting mark (see run-waits.ts), made on first use. */
  protected waits: RunWaits | undefined

  /** @internal */
  constructor(workflow: WorkflowDefinition, options: RunOptions) {
    this.id = options.runId
    this.workflow = workflow
    this.actions = options.actions
    this.onEnd = options.onEnd
    this.store = options.durability === 'none' ? undefined : options.store
    this.sync = this.store !== undefined && options.durability === 'sync'
    this.durable = this.store !== undefined
    this.meter = options.meter
    this.eventLog = new EventLog(options.listeners, options.parent?.log)
    this.parentId = options.parent?.id
    this.parentTask = options.parent?.task
    this.depth = options.parent ? options.parent.depth + 1 : 0
    this.resumed = options.resume === true
    this.handle = nextHandle = (nextHandle + 1) >>> 0
  }

  /** @internal Acts on the core's answer (run-steps.ts). */
  protected abstract follow(answer: unknown[], from: Completion | undefined): void
  /** @internal Ends the run if nothing is in flight (run-steps.ts). */
  protected abstract maybeFinish(): void

  /** @internal Live child runs: a cancel is passed on with its policy. */
  get children(): Set<LiveChild> {
    return (this.childRuns ??= new Set())
  }

  /** `waiting` while everything in flight is a wait or a sleep. */
  get status(): RunStatus {
    if (this.unsettled) return 'running'
    if (this.runStatus === 'running' && this.waits?.allParked(this.active)) return 'waiting'
    return this.runStatus
  }

  /**
   * What `JSON.stringify(run)` gives: the run, not the engine's bookkeeping
   * (the Run's layers share their fields as plain properties, which would
   * otherwise show, the store and timers among them).
   */
  toJSON(): RunView {
    const view: RunView = { id: this.id, workflow: this.workflow.name, status: this.status }
    if (this.parentId !== undefined) {
      view.parentId = this.parentId
      view.parentTask = this.parentTask
    }
    return view
  }

  /** @internal What `console.log(run)` prints: the same view. */
  [inspect.custom](_depth: number, options: InspectOptions): string {
    return `Run ${inspect(this.toJSON(), options)}`
  }

  /** @internal */
  protected get waiting(): RunWaits {
    return (this.waits ??= new RunWaits(this, this.store))
  }

  /** @internal The run's signals (see TaskHost). */
  get mailbox(): Mailbox {
    return this.waiting.mailbox
  }

  /** @internal */
  park(parked: Deadline): void {
    this.waiting.park(parked)
  }

  /** @internal */
  unpark(parked: Deadline): void {
    this.waits?.unpark(parked)
  }

  /**
   * The run's abort signal (aborted when it is cancelled, times out or ends
   * with work in flight). Named so since `run.signal(name, payload)` sends a signal.
   */
  get abortSignal(): AbortSignal {
    return (this.linkedSignal ??= new LinkedSignal()).signal(undefined, this.runStatus === 'running' ? undefined : new Error(`run ${this.runStatus}`))
  }

  /** @internal A timer to clear when the run ends. */
  track(timer: ReturnType<typeof setTimeout>): void {
    ;(this.timers ??= new Set()).add(timer)
  }

  /** @internal */
  untrack(timer: ReturnType<typeof setTimeout>): void {
    this.timers?.delete(timer)
  }

  /** @internal */
  accepting(): boolean {
    return this.runStatus === 'running' && !this.stopping
  }

  /** @internal */
  live(): boolean {
    return this.runStatus === 'running'
  }

  /** @internal Running, still this process's to write, its end not pending (see run-waits.ts). */
  markable(): boolean {
    return this.runStatus === 'running' && !this.released && !this.unsettled
  }

  /** @internal */
  emit(event: RunEvent): void {
    this.eventLog.push(event)
    journalEvent(this, event)
  }

  /** @internal */
  emitItem(task: string, attempt: number, index: number, status?: 'succeeded' | 'failed' | 'timed_out'): void {
    // not journaled: the item's execution row says it (see journal-events.ts)
    this.eventLog.pushItem(this.id, task, attempt, index, status)
  }

  /** @internal An event of the run itself (not journaled), stamped with its id and time. */
  protected pushEvent(event: NewEvent): void {
    // stamped in place: a spread with extra keys is a slow path in V8
    const stamped = event as RunEvent
    stamped.runId = this.id
    stamped.time = Date.now()
    this.eventLog.push(stamped)
  }

  /**
   * Stops the run: nothing new starts; `cancel_running` (default) aborts
   * every in-flight handler's signal at once and ends the run (late
   * results are discarded); `allow_finish` lets in-flight work end first.
   * Resolves when the run has ended.
   */
  async cancel(options: { policy?: CancelPolicy } = {}): Promise<void> {
    // children first, with the same policy: an allow_finish parent lets them end their work too
    if (this.childRuns) for (const child of this.childRuns) void child.cancel(options)
    if (this.runStatus === 'running') {
      this.stopping = true
      if ((options.policy ?? 'cancel_running') === 'cancel_running') this.finish('cancelled')
      else this.maybeFinish()
    }
    await this.outcome.promise().catch(() => undefined)
  }

  /**
   * @internal A worker no longer holds the run (see `lib/queue/worker.ts`):
   * every handler in flight is aborted with `reason`, nothing more is
   * written (the writer's fence refuses what is still queued), the native
   * state is released, `run.lease_lost` is emitted and `result()` rejects
   * with `reason`. The run is not ended in the store: it goes on elsewhere.
   */
  abandon(reason: Error, why: 'lost' | 'released'): void {
    if (this.runStatus !== 'running' && !this.unsettled) return
    this.runStatus = 'cancelled' // here only: nothing of it is written
    this.unsettled = false
    this.stopping = true
    // its children go with it, writing no end either: the worker that takes the run over resumes them
    if (this.childRuns) for (const child of this.childRuns) child.abandon(reason, why)
    this.#stopInFlight(() => reason)
    if (!this.released) {
      this.released = true
      this.crossings++
      // no status: the journal's buffered rows go to the writer, which refuses them once fenced out
      native.runEnd(this.handle, null, null)
    }
    this.pushEvent({ type: 'run.lease_lost', reason: why })
    this.eventLog.close()
    this.outcome.settle(reason, undefined)
    this.onEnd?.(this.id)
  }

  /** @internal */
  protected fail(failure: Failure, task?: string, attempt?: number): void {
    if (this.runStatus !== 'running') return
    this.#end('failed', task ? { type: 'run.failed', error: failure, task } : { type: 'run.failed', error: failure }, new RunFailedError(this.id, failure, task, attempt))
  }

  /** @internal */
  protected succeed(output: unknown): void {
    if (this.runStatus !== 'running') return
    if (this.workflow.output === undefined) output = undefined
    this.#end('succeeded', { type: 'run.succeeded', output }, undefined, output)
  }

  /** @internal */
  protected finish(status: 'cancelled' | 'timed_out'): void {
    if (this.runStatus !== 'running') return
    if (this.ending) {
      // the recorded end stands; sync reports it with its commit (already awaited)
      if (this.sync) return void (this.stopping = true)
      return this.follow(this.ending, undefined)
    }
    this.#end(status, { type: status === 'cancelled' ? 'run.cancelled' : 'run.timed_out' }, new RunStoppedError(this.id, status))
  }

  /** The run ends: everything in flight stops now; the end is announced (`event`, result) once durable. */
  #end(status: Exclude<RunStatus, 'running'>, event: NewEvent, error?: Error, output?: unknown): void {
    this.runStatus = status
    // the reason is made only when something is in flight: an Error's stack costs microseconds per run
    // children hear of the run's end here, not through its signal (see subflows.ts)
    if (this.childRuns) for (const child of this.childRuns) void child.cancel()
    this.#stopInFlight(() => new Error(`run ${status}`))
    // the core gives back what attempts in flight reserved
    let seq = -1
    if (!this.released) {
      this.released = true
      this.crossings++
      if (this.store) seq = native.runEnd(this.handle, status, error instanceof RunFailedError ? JSON.stringify(error.failure) : null)
      else native.runEnd(this.handle, null, null)
    }
    if (this.sync && seq > 0) {
      // sync: nothing is reported as ended before the store has it (a cancel cannot shorten this wait)
      this.unsettled = true
      void this.store!.committed(seq).then(() => {
        if (!this.unsettled) return // abandoned meanwhile (a lost lease): that was announced
        this.unsettled = false
        this.#announce(event, error, output)
      })
      return
    }
    this.#announce(event, error, output)
  }

  /** Timers, parked waits and signals go; whatever is in flight is aborted with `reason()` (its late result discarded). */
  #stopInFlight(reason: () => Error): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    if (this.timers) for (const timer of this.timers) clearTimeout(timer)
    this.timers = undefined
    this.waits?.stop()
    // an abort dispatches events: skip it when nothing is in flight
    if (this.active > 0) this.linkedSignal?.abort(reason())
  }

  #announce(event: NewEvent, error: Error | undefined, output: unknown): void {
    this.pushEvent(event)
    this.eventLog.close()
    // the engine forgets the run first: settling runs a parent's turn (see subflows.ts), which may throw
    this.onEnd?.(this.id)
    this.outcome.settle(error, output)
  }
}
