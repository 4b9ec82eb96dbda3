/**
 * A run: schedules tasks from the start list, follows transitions
 * (`when`, `publish`, `do`, `join`), bounds cycles with the step limit, and
 * ends `succeeded`, `failed`, `cancelled` or `timed_out`.
 */
import { awaitCredit } from './credit-wait'
import { native } from '../binding'
import { WorkflowContext } from '../context'
import { fromNative, RunEndedError, SignalError } from '../errors'
import { RunFailedError, RunStoppedError } from './run-errors'
import type { CancelPolicy, RunOptions, RunStats, RunStatus } from './run-types'
import { encode } from '../values'
import type { WorkflowDefinition } from '../workflow/model'
import type { DurableStore } from '../store/store'
import type { Action } from './attempt'
import { balanceOf, InsufficientBalanceError, type RunMeter } from './metering'
import { EventLog, type NewEvent, type RunEvent } from './events'
import { journalEvent } from './journal-events'
import { toFailure, type Failure } from './failure'
import { AnswerKind, completeOp, STATUS_CODE, takeAck, unit, type InputKind } from './protocol'
import { LinkedSignal } from './signals'
import type { Mailbox } from './mailbox'
import type { Deadline } from './deadlines'
import { RunWaits } from './run-waits'
import { RunOutcome } from './run-outcome'
import { startTask } from './kinds'
import { readResume } from './run-resume'
import { answerFailure, type Completion, type EndedOutcome } from './run-answers'
import { setLongTimeout } from './timers'
import { dataFailure } from './task'
import type { Activation, TaskOutcome } from './task-host'

export { RunFailedError, RunStoppedError } from './run-errors'
export type { CancelPolicy, Durability, RunOptions, RunStats, RunStatus } from './run-types'

/** Handles of live runs in the native registry (per thread, like the registry). */
let nextHandle = 0

/** Each sealed flow's number for `runStart` (a number crosses for less than the flow object). */
const flowIds = new WeakMap<WorkflowDefinition['flow'], number>()

function flowId(flow: WorkflowDefinition['flow']): number {
  let id = flowIds.get(flow)
  if (id === undefined) flowIds.set(flow, (id = flow.register()))
  return id
}

/**
 * A run of a workflow, made by `engine.start` (or `engine.resume`): its
 * status, events, context and result. `O` is the output its starter
 * expects (`engine.start<O>()`), not checked.
 *
 * @example
 * const run = engine.start<{ paid: boolean }>(wf, input)
 * for await (const event of run.events()) console.log(event.type)
 * const { paid } = await run.result()
 */
// The TaskHost of its tasks (task-host.ts), structurally: those members are
// internal, kept out of the published types (an `implements` clause would
// name them there).
export class Run<O = unknown> {
  readonly id: string
  readonly workflow: WorkflowDefinition
  /** @internal */
  readonly handle: number
  #released = false
  /** @internal */
  crossings = 0
  #timers: Set<ReturnType<typeof setTimeout>> | undefined
  #status: RunStatus = 'running'
  #context: WorkflowContext | undefined
  readonly #log: EventLog
  // made on first use: most runs' handlers never read their signal
  #signal: LinkedSignal | undefined
  readonly #actions: Action[]
  readonly #onEnd: ((runId: string) => void) | undefined
  readonly #store: DurableStore | undefined
  readonly #sync: boolean
  /** @internal The run journals its executions (see TaskHost). */
  readonly durable: boolean
  /** @internal Metered runs: the meter (see TaskHost). */
  readonly meter: RunMeter | undefined
  #active = 0
  /** Activations this process started (for stats: the core counts them against the step limit). */
  #steps = 0
  #stopping = false
  /**
   * The core has recorded the run's end (`[3, output]` or `[4, error]`):
   * a cancel or timeout that comes while it waits for the commit does not
   * change it (the store will say that outcome). `batched` reports it at
   * once; `sync` once it is committed.
   */
  #ending: unknown[] | undefined
  /**
   * `sync`: the run has ended (`#status`) but its end is not committed yet:
   * nobody hears of it (status, result, end event) until it is.
   */
  #unsettled = false
  #timer: ReturnType<typeof setTimeout> | undefined
  readonly #outcome = new RunOutcome()
  /** @internal A child's parent run and task (undefined: a top-level run). */
  readonly parentId: string | undefined
  readonly parentTask: string | undefined
  /** @internal Sub-workflow nesting: 0 for a top-level run. */
  readonly depth: number
  /** @internal The run was resumed (its workflow tasks look for the children they started). */
  readonly resumed: boolean
  // made on first use: most runs start no child
  #children: Set<Run> | undefined
  /** Its mailbox, parked waits and waiting mark (see run-waits.ts), made on first use. */
  #waits: RunWaits | undefined
  /** A deferred start's answer, until `begin`. */
  #deferred: unknown[] | undefined

  /** @internal Runs are made by `engine.start` and `engine.resume`. */
  constructor(workflow: WorkflowDefinition, input: unknown, options: RunOptions) {
    this.id = options.runId
    this.workflow = workflow
    this.#actions = options.actions
    this.#onEnd = options.onEnd
    this.#store = options.durability === 'none' ? undefined : options.store
    this.#sync = this.#store !== undefined && options.durability === 'sync'
    this.durable = this.#store !== undefined
    this.meter = options.meter
    this.#log = new EventLog(options.listeners, options.parent?.log)
    this.parentId = options.parent?.id
    this.parentTask = options.parent?.task
    this.depth = options.parent ? options.parent.depth + 1 : 0
    this.resumed = options.resume === true
    this.handle = nextHandle = (nextHandle + 1) >>> 0
    if (options.ended) {
      // nothing native: its history is in the store
      this.#released = true
      this.#status = options.ended.status
      this.#log.close()
      this.#outcome.settle(options.ended.error, options.ended.output)
      return
    }
    this.crossings++
    if (options.resume) {
      this.#resume()
      this.#arm(options)
      return
    }
    // throws (a ValueError) for an input that cannot be workflow data, before anything started
    const inputJson = input === undefined ? null : encode(input, 'input')
    let answer: unknown[]
    try {
      const meter = options.meter
      answer = JSON.parse(native.runStart(flowId(workflow.flow), this.handle, inputJson, this.id, Date.now(), this.#store?.native ?? null, meter?.accountName ?? null, meter?.table ?? null, meter?.account ?? null)) as unknown[]
      if (this.#store) takeAck(answer) // nothing waits for a start
    } catch (error) {
      throw fromNative(error)
    }
    // one literal per shape: fields added afterwards (Object.assign) take V8's slow path
    this.#emit(this.parentId === undefined
      ? { type: 'run.started', workflow: workflow.name, input }
      : { type: 'run.started', workflow: workflow.name, input, parentId: this.parentId, parentTask: this.parentTask })
    if (answer[0] === AnswerKind.VarsError) {
      const failure = dataFailure(answer[1])
      queueMicrotask(() => this.#fail({ name: failure.name, message: `initial vars: ${failure.message}`, cause: failure }))
      return
    }
    this.#arm(options)
    // a child's parent task starts it (`begin`) once it has announced and follows it: no tick, no closure
    if (options.deferred) {
      this.#deferred = answer
      return
    }
    // start on a later tick so that a caller can attach listeners first
    queueMicrotask(() => {
      this.#follow(answer, undefined)
      this.#maybeFinish()
    })
  }

  /** @internal A deferred start (`deferred`, a child's: see subflows.ts) goes on now; once. */
  begin(): void {
    const answer = this.#deferred
    if (!answer) return
    this.#deferred = undefined
    this.#follow(answer, undefined)
    this.#maybeFinish()
  }

  /** Cancellation and the run's timeout. */
  #arm(options: RunOptions): void {
    if (options.signal) {
      if (options.signal.aborted) queueMicrotask(() => void this.cancel())
      else options.signal.addEventListener('abort', () => void this.cancel(), { once: true })
    }
    if (options.timeoutMs !== undefined) this.#timer = setLongTimeout(() => this.#finish('timed_out'), options.timeoutMs)
  }

  /** Rebuilds the run from the store and goes on from where its process stopped (see run-resume.ts). */
  #resume(): void {
    let answer: unknown[]
    try {
      const meter = this.meter
      answer = JSON.parse(native.runResume(this.workflow.flow, this.handle, this.id, this.#store!.native, meter?.table ?? null, meter?.account ?? null)) as unknown[]
    } catch (error) {
      this.#released = true
      throw fromNative(error)
    }
    const tasks = this.workflow.taskList
    const { plan, signals, message } = readResume(answer, tasks)
    // signals received and not taken: kept again, in order, for the waits
    for (const [name, payload] of signals) this.mailbox.deliver(name, payload)
    const pending = plan.kind === 'continue' ? plan.tasks.map((t) => tasks[t.index]!.name) : []
    this.#emit({ type: 'run.resumed', workflow: this.workflow.name, pending, message })
    if (plan.kind === 'continue') {
      this.#steps = plan.steps
      queueMicrotask(() => {
        for (const { index, step, kind, value, resumed } of plan.tasks) {
          if (!this.accepting()) break
          this.#active++
          startTask(tasks[index]!, this, this.#actions[index]!, step, kind, value, resumed)
        }
        this.#maybeFinish()
      })
    } else if (plan.kind === 'ended') {
      queueMicrotask(() => this.#follow([plan.next], plan.from))
    } else {
      this.#ending = plan.answer
      queueMicrotask(() => this.#follow(plan.answer, undefined))
    }
  }

  /** @internal Live child runs: a cancel is passed on with its policy. */
  get children(): Set<Run> {
    return (this.#children ??= new Set())
  }

  /** `waiting` while everything in flight is a wait or a sleep. */
  get status(): RunStatus {
    if (this.#unsettled) return 'running'
    if (this.#status === 'running' && this.#waits?.allParked(this.#active)) return 'waiting'
    return this.#status
  }

  get #waiting(): RunWaits {
    return (this.#waits ??= new RunWaits(this, this.#store))
  }

  /** @internal The run's signals (see TaskHost). */
  get mailbox(): Mailbox {
    return this.#waiting.mailbox
  }

  /** @internal */
  park(parked: Deadline): void {
    this.#waiting.park(parked)
  }

  /** @internal */
  unpark(parked: Deadline): void {
    this.#waits?.unpark(parked)
  }

  /** @internal Running, still this process's to write, its end not pending (see run-waits.ts). */
  markable(): boolean {
    return this.#status === 'running' && !this.#released && !this.#unsettled
  }

  /**
   * Sends signal `name` to the run: the oldest wait for it takes it (its
   * result is `payload`), else it is kept until a wait takes it. A durable
   * run journals it first (`sync`: resolves once committed). Throws a
   * `SignalError` once the run has ended, a `ValueError` for a payload
   * that cannot be workflow data.
   *
   * @example
   * await run.signal('approval', { ok: true })
   */
  signal(name: string, payload: unknown = null): Promise<void> {
    if (typeof name !== 'string' || name === '') return Promise.reject(new SignalError(`a signal's name must be a non-empty string, got ${JSON.stringify(name) ?? String(name)}`))
    if (this.#status !== 'running' || this.#released) return Promise.reject(new SignalError(`signal '${name}': run ${this.id} has ended (${this.#status})`))
    return this.#waiting.send(name, payload)
  }

  /**
   * @internal A signal another process stored for this run (journaled
   * there already, as `signal.stored`): into the mailbox, not journaled again.
   */
  takeStored(name: string, payload: unknown): void {
    if (this.#status !== 'running' || this.#released) return
    // when and where in the run it arrived (its `signal.stored` row says when it was sent); journaled
    // before a wait takes it, so that the row lands before that wait's end
    const time = Date.now()
    journalEvent(this, { type: 'signal.received', runId: this.id, time, name, payload }, 'signal.delivered')
    this.#waiting.received(name, payload, time)
  }

  /** @internal `sync` durability (see TaskHost). */
  get sync(): boolean {
    return this.#sync
  }

  /**
   * The run's shared context (the same state its tasks read), while the run
   * is live; afterwards, read its output with {@link Run.result}.
   */
  get context(): WorkflowContext {
    if (!this.#context) {
      if (this.#released) throw new RunEndedError(`run ${this.id} has ended: its context is released`)
      try {
        this.#context = WorkflowContext.fromNative(native.runContext(this.handle))
      } catch (error) {
        throw fromNative(error)
      }
    }
    return this.#context
  }

  /**
   * The run's abort signal (aborted when it is cancelled, times out or ends
   * with work in flight). Named so since `run.signal(name, payload)` sends a signal.
   */
  get abortSignal(): AbortSignal {
    return (this.#signal ??= new LinkedSignal()).signal(undefined, this.#status === 'running' ? undefined : new Error(`run ${this.#status}`))
  }

  /** @internal A timer to clear when the run ends. */
  track(timer: ReturnType<typeof setTimeout>): void {
    ;(this.#timers ??= new Set()).add(timer)
  }

  /** @internal */
  untrack(timer: ReturnType<typeof setTimeout>): void {
    this.#timers?.delete(timer)
  }

  stats(): RunStats {
    return { tasks: this.#steps, nativeCalls: this.crossings }
  }

  /** @internal Every event so far (its children's too). */
  history(): readonly RunEvent[] {
    return this.#log.all()
  }

  /** @internal The run's event log (a child's events are kept in it too). */
  get eventLog(): EventLog {
    return this.#log
  }

  /** Every event of the run, replayed from the start, then live until the run ends. */
  events(): AsyncGenerator<RunEvent, void, undefined> {
    return this.#log.iterate()
  }

  /** The run's output; rejects with RunFailedError or RunStoppedError. */
  result(): Promise<O> {
    return this.#outcome.promise() as Promise<O>
  }

  /** @internal `then(error, output)` once `result()` would settle, with no promise (a parent's workflow task waits so). */
  whenEnded(then: (error: Error | undefined, output: unknown) => void): void {
    this.#outcome.listen(then)
  }

  /**
   * Stops the run: nothing new starts; `cancel_running` (default) aborts
   * every in-flight handler's signal at once and ends the run (late
   * results are discarded); `allow_finish` lets in-flight work end first.
   * Resolves when the run has ended.
   */
  async cancel(options: { policy?: CancelPolicy } = {}): Promise<void> {
    // children first, with the same policy: an allow_finish parent lets them end their work too
    if (this.#children) for (const child of this.#children) void child.cancel(options)
    if (this.#status === 'running') {
      this.#stopping = true
      if ((options.policy ?? 'cancel_running') === 'cancel_running') this.#finish('cancelled')
      else this.#maybeFinish()
    }
    await this.result().catch(() => undefined)
  }

  /**
   * @internal A worker no longer holds the run (see `lib/queue/worker.ts`):
   * every handler in flight is aborted with `reason`, nothing more is
   * written (the writer's fence refuses what is still queued), the native
   * state is released, `run.lease_lost` is emitted and `result()` rejects
   * with `reason`. The run is not ended in the store: it goes on elsewhere.
   */
  abandon(reason: Error, why: 'lost' | 'released'): void {
    if (this.#status !== 'running' && !this.#unsettled) return
    this.#status = 'cancelled' // here only: nothing of it is written
    this.#unsettled = false
    this.#stopping = true
    // its children go with it, writing no end either: the worker that takes the run over resumes them
    if (this.#children) for (const child of this.#children) child.abandon(reason, why)
    this.#stopInFlight(() => reason)
    if (!this.#released) {
      this.#released = true
      this.crossings++
      // no status: the journal's buffered rows go to the writer, which refuses them once fenced out
      native.runEnd(this.handle, null, null)
    }
    this.#emit({ type: 'run.lease_lost', reason: why })
    this.#log.close()
    this.#outcome.settle(reason, undefined)
    this.#onEnd?.(this.id)
  }

  /** @internal */
  accepting(): boolean {
    return this.#status === 'running' && !this.#stopping
  }

  /** @internal */
  live(): boolean {
    return this.#status === 'running'
  }

  /** @internal */
  emit(event: RunEvent): void {
    this.#log.push(event)
    journalEvent(this, event)
  }

  /** @internal */
  emitItem(task: string, attempt: number, index: number, status?: 'succeeded' | 'failed' | 'timed_out'): void {
    // not journaled: the item's execution row says it (see journal-events.ts)
    this.#log.pushItem(this.id, task, attempt, index, status)
  }

  #emit(event: NewEvent): void {
    // stamped in place: a spread with extra keys is a slow path in V8
    const stamped = event as RunEvent
    stamped.runId = this.id
    stamped.time = Date.now()
    this.#log.push(stamped)
  }

  #activate(index: number, step: number, kind: InputKind, value: unknown): void {
    if (!this.accepting()) return
    this.#steps++
    this.#active++
    this.#waits?.activity()
    startTask(this.workflow.taskList[index]!, this, this.#actions[index]!, step, kind, value)
  }

  /** @internal An attempt's account could not cover its estimate: the attempt does not run, the run fails. */
  insufficientBalance(task: string, attempt: number, index: number, needed: number, known?: number): void {
    const meter = this.meter!
    const balance = known ?? balanceOf(meter, this.#store?.native ?? null)
    const event = { type: 'billing.insufficient_balance', runId: this.id, time: Date.now(), task, attempt, account: meter.accountName, needed, balance } as RunEvent & { index?: number }
    if (index >= 0) event.index = index
    this.#log.push(event)
    const error = new InsufficientBalanceError(meter.accountName, needed, balance)
    // at once: nothing else of the run starts (a with-items task's pump stops on it)
    const failure = toFailure(error) // its fields too: the cause is rebuilt as an InsufficientBalanceError
    delete failure.stack // the engine's own frames, not the user's
    this.#fail(failure, task, attempt)
  }

  /** @internal */
  waitForStore(seq: number, then: () => void): void {
    this.#active++ // the run stays open while it waits
    void this.#store!.committed(seq).then(() => {
      this.#active--
      if (this.#status === 'running') then()
      this.#maybeFinish()
    })
  }

  /** @internal A reservation waits for a lease (see `credit-wait.ts`): `then()` once reserved, `then(balance)` once refused; nothing if the run ended meanwhile. */
  waitForCredit(ticket: number, then: (balance?: number) => void): void {
    this.#active++ // the run stays open while it waits
    awaitCredit(this.meter!.handle, this.handle, ticket, () => this.live(), (balance) => {
      this.#active--
      if (this.#status === 'running') then(balance)
      this.#maybeFinish()
    })
  }

  /** @internal A task activation ended: record it, follow its transitions. */
  taskDone(activation: Activation, outcome: TaskOutcome): void {
    this.#active--
    this.#waits?.activity()
    if (this.#status !== 'running') return // the run's end gave its reservations back
    if (outcome.status === 'cancelled') {
      // a charge its completion would have settled: not billed, given back
      if (activation.charge) native.meterRelease(this.handle, activation.charge[0])
      activation.charge = undefined
    } else this.#complete(activation, outcome)
    this.#maybeFinish()
  }

  #complete(activation: Activation, outcome: EndedOutcome): void {
    const name = activation.name
    let payload: string
    if (outcome.status === 'succeeded') {
      try {
        // an attempt checked (and encoded) its own result; a with-items list is encoded here
        payload = outcome.payload ?? encode(outcome.result, `result of task '${name}'`)
      } catch (error) {
        // a result that cannot be workflow data fails the task
        outcome = { status: 'failed', error: toFailure(error), attempt: outcome.attempt }
        payload = JSON.stringify(outcome.error)
      }
    } else payload = JSON.stringify(outcome.error)
    const { attempt } = outcome
    let answer: unknown[]
    try {
      this.crossings++
      const follow = !this.#stopping
      const op = completeOp(this.handle, activation.index, STATUS_CODE[outcome.status], follow, follow && this.#active === 0)
      const charge = activation.charge
      activation.charge = undefined
      // the core settles the charge by the final status (a result that could not be kept is a failure)
      answer = JSON.parse(charge
        ? native.runComplete(op, payload, unit(activation.index, activation.step, attempt), charge[0], charge[1])
        : native.runComplete(op, payload, this.#store ? unit(activation.index, activation.step, attempt) : undefined)) as unknown[]
    } catch (error) {
      const failure = toFailure(fromNative(error))
      return this.#fail({ name: 'TransitionError', message: failure.message, cause: failure }, name, attempt)
    }
    if (!this.#store) return this.#completed(name, attempt, outcome, answer) // no closure on the in-memory path
    this.#acknowledged(answer, () => this.#completed(name, attempt, outcome, answer))
  }

  /** A completion is acknowledged: its event, then what it leads to. */
  #completed(task: string, attempt: number, outcome: EndedOutcome, answer: unknown[]): void {
    if (outcome.status === 'succeeded') {
      this.#log.push({ type: 'task.succeeded', runId: this.id, time: Date.now(), task, attempt, result: outcome.result })
    } else {
      this.#emit(outcome.status === 'timed_out'
        ? { type: 'task.timed_out', task, attempt }
        : { type: 'task.failed', task, attempt, error: outcome.error })
    }
    if (!this.#stopping || this.#ending) this.#follow(answer, { task, attempt, outcome })
  }

  /**
   * Runs `act` once the store acknowledges the writes behind `answer`: at
   * once in memory and for `batched` runs, after the commit for `sync`
   * runs or when the store's queue is full (backpressure: the run waits).
   */
  #acknowledged(answer: unknown[], act: () => void): void {
    if (!this.#store) return act()
    const { full, seq } = takeAck(answer)
    if (answer[0] === AnswerKind.Complete || answer[0] === AnswerKind.OutputError || answer[0] === AnswerKind.JoinError) this.#ending = answer
    if (!this.#sync && !full) return act()
    this.waitForStore(seq, act)
  }

  /** Acts on the core's answer: start tasks, fail (see run-answers.ts), or complete the run. */
  #follow(answer: unknown[], from: Completion | undefined): void {
    const kind = answer[0]
    if (kind === AnswerKind.Schedule) {
      for (let i = 1; i < answer.length; i += 4) this.#activate(answer[i] as number, answer[i + 1] as number, answer[i + 2] as InputKind, answer[i + 3])
      return
    }
    // the core released the run with these answers
    if (kind === AnswerKind.Complete || kind === AnswerKind.OutputError || kind === AnswerKind.JoinError) this.#released = true
    if (kind === AnswerKind.Complete) return this.#succeed(answer[1])
    const ended = answerFailure(answer, from, this.workflow.taskList)
    if (!ended) return
    if (ended.blocked && this.#status === 'running') this.#emit(ended.blocked)
    this.#fail(ended.failure, ended.task, ended.attempt)
  }

  #fail(failure: Failure, task?: string, attempt?: number): void {
    if (this.#status !== 'running') return
    this.#end('failed', task ? { type: 'run.failed', error: failure, task } : { type: 'run.failed', error: failure }, new RunFailedError(this.id, failure, task, attempt))
  }

  #maybeFinish(): void {
    if (this.#status !== 'running' || this.#active > 0) return
    if (this.#stopping) return this.#finish('cancelled')
    let answer: unknown[]
    try {
      this.crossings++
      answer = JSON.parse(native.runFinish(this.handle)) as unknown[]
    } catch (error) {
      const failure = toFailure(fromNative(error))
      return this.#fail({ name: 'OutputError', message: failure.message, cause: failure })
    }
    this.#acknowledged(answer, () => this.#follow(answer, undefined))
  }

  #succeed(output: unknown): void {
    if (this.#status !== 'running') return
    if (this.workflow.output === undefined) output = undefined
    this.#end('succeeded', { type: 'run.succeeded', output }, undefined, output)
  }

  #finish(status: 'cancelled' | 'timed_out'): void {
    if (this.#status !== 'running') return
    if (this.#ending) {
      // the recorded end stands; sync reports it with its commit (already awaited)
      if (this.#sync) return void (this.#stopping = true)
      return this.#follow(this.#ending, undefined)
    }
    this.#end(status, { type: status === 'cancelled' ? 'run.cancelled' : 'run.timed_out' }, new RunStoppedError(this.id, status))
  }

  /** The run ends: everything in flight stops now; the end is announced (`event`, result) once durable. */
  #end(status: Exclude<RunStatus, 'running'>, event: NewEvent, error?: Error, output?: unknown): void {
    this.#status = status
    // the reason is made only when something is in flight: an Error's stack costs microseconds per run
    // children hear of the run's end here, not through its signal (see subflows.ts)
    if (this.#children) for (const child of this.#children) void child.cancel()
    this.#stopInFlight(() => new Error(`run ${status}`))
    // the core gives back what attempts in flight reserved
    let seq = -1
    if (!this.#released) {
      this.#released = true
      this.crossings++
      if (this.#store) seq = native.runEnd(this.handle, status, error instanceof RunFailedError ? JSON.stringify(error.failure) : null)
      else native.runEnd(this.handle, null, null)
    }
    if (this.#sync && seq > 0) {
      // sync: nothing is reported as ended before the store has it (a cancel cannot shorten this wait)
      this.#unsettled = true
      void this.#store!.committed(seq).then(() => {
        if (!this.#unsettled) return // abandoned meanwhile (a lost lease): that was announced
        this.#unsettled = false
        this.#announce(event, error, output)
      })
      return
    }
    this.#announce(event, error, output)
  }

  /** Timers, parked waits and signals go; whatever is in flight is aborted with `reason()` (its late result discarded). */
  #stopInFlight(reason: () => Error): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    if (this.#timers) for (const timer of this.#timers) clearTimeout(timer)
    this.#timers = undefined
    this.#waits?.stop()
    // an abort dispatches events: skip it when nothing is in flight
    if (this.#active > 0) this.#signal?.abort(reason())
  }

  #announce(event: NewEvent, error: Error | undefined, output: unknown): void {
    this.#emit(event)
    this.#log.close()
    // the engine forgets the run first: settling runs a parent's turn (see subflows.ts), which may throw
    this.#onEnd?.(this.id)
    this.#outcome.settle(error, output)
  }
}
