/**
 * A run: schedules tasks from the start list, follows transitions
 * (`when`, `publish`, `do`, `join`), bounds cycles with the step limit, and
 * ends `succeeded`, `failed`, `cancelled` or `timed_out`. This file: how a
 * run starts or resumes, and what its callers read and send; its steps are
 * in run-steps.ts, its state and end in run-lifecycle.ts.
 */
import { native } from '../binding'
import { WorkflowContext } from '../context'
import { fromNative, RunEndedError, SignalError } from '../errors'
import type { RunOptions, RunStats } from './run-types'
import { encode } from '../values'
import type { WorkflowDefinition } from '../workflow/model'
import type { RunEvent } from './events'
import { journalEvent } from './journal-events'
import { AnswerKind, takeAck } from './protocol'
import { startTask } from './kinds'
import { readResume } from './run-resume'
import { RunSteps } from './run-steps'
import { setLongTimeout } from './timers'
import { dataFailure } from './task'

export { RunFailedError, RunStoppedError } from './run-errors'
export type { CancelPolicy, Durability, RunOptions, RunStats, RunStatus } from './run-types'

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
export class Run<O = unknown> extends RunSteps {
  #context: WorkflowContext | undefined
  /** A deferred start's answer, until `begin`. */
  #deferred: unknown[] | undefined

  /** @internal Runs are made by `engine.start` and `engine.resume`. */
  constructor(workflow: WorkflowDefinition, input: unknown, options: RunOptions) {
    super(workflow, options)
    if (options.ended) {
      // nothing native: its history is in the store
      this.released = true
      this.runStatus = options.ended.status
      this.eventLog.close()
      this.outcome.settle(options.ended.error, options.ended.output)
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
      answer = JSON.parse(native.runStart(flowId(workflow.flow), this.handle, inputJson, this.id, Date.now(), this.store?.native ?? null, meter?.accountName ?? null, meter?.table ?? null, meter?.account ?? null)) as unknown[]
      if (this.store) takeAck(answer) // nothing waits for a start
    } catch (error) {
      throw fromNative(error)
    }
    // one literal per shape: fields added afterwards (Object.assign) take V8's slow path
    this.pushEvent(this.parentId === undefined
      ? { type: 'run.started', workflow: workflow.name, input }
      : { type: 'run.started', workflow: workflow.name, input, parentId: this.parentId, parentTask: this.parentTask })
    if (answer[0] === AnswerKind.VarsError) {
      const failure = dataFailure(answer[1])
      queueMicrotask(() => this.fail({ name: failure.name, message: `initial vars: ${failure.message}`, cause: failure }))
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
      this.follow(answer, undefined)
      this.maybeFinish()
    })
  }

  /** @internal A deferred start (`deferred`, a child's: see subflows.ts) goes on now; once. */
  begin(): void {
    const answer = this.#deferred
    if (!answer) return
    this.#deferred = undefined
    this.follow(answer, undefined)
    this.maybeFinish()
  }

  /** Cancellation and the run's timeout. */
  #arm(options: RunOptions): void {
    if (options.signal) {
      if (options.signal.aborted) queueMicrotask(() => void this.cancel())
      else options.signal.addEventListener('abort', () => void this.cancel(), { once: true })
    }
    if (options.timeoutMs !== undefined) this.timer = setLongTimeout(() => this.finish('timed_out'), options.timeoutMs)
  }

  /** Rebuilds the run from the store and goes on from where its process stopped (see run-resume.ts). */
  #resume(): void {
    let answer: unknown[]
    try {
      const meter = this.meter
      answer = JSON.parse(native.runResume(this.workflow.flow, this.handle, this.id, this.store!.native, meter?.table ?? null, meter?.account ?? null)) as unknown[]
    } catch (error) {
      this.released = true
      throw fromNative(error)
    }
    const tasks = this.workflow.taskList
    const { plan, signals, message } = readResume(answer, tasks)
    // signals received and not taken: kept again, in order, for the waits
    for (const [name, payload] of signals) this.mailbox.deliver(name, payload)
    const pending = plan.kind === 'continue' ? plan.tasks.map((t) => tasks[t.index]!.name) : []
    this.pushEvent({ type: 'run.resumed', workflow: this.workflow.name, pending, message })
    if (plan.kind === 'continue') {
      this.steps = plan.steps
      queueMicrotask(() => {
        for (const { index, step, kind, value, resumed } of plan.tasks) {
          if (!this.accepting()) break
          this.active++
          startTask(tasks[index]!, this, this.actions[index]!, step, kind, value, resumed)
        }
        this.maybeFinish()
      })
    } else if (plan.kind === 'ended') {
      queueMicrotask(() => this.follow([plan.next], plan.from))
    } else {
      this.ending = plan.answer
      queueMicrotask(() => this.follow(plan.answer, undefined))
    }
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
    if (this.runStatus !== 'running' || this.released) return Promise.reject(new SignalError(`signal '${name}': run ${this.id} has ended (${this.runStatus})`))
    return this.waiting.send(name, payload)
  }

  /**
   * @internal A signal another process stored for this run (journaled
   * there already, as `signal.stored`): into the mailbox, not journaled again.
   */
  takeStored(name: string, payload: unknown): void {
    if (this.runStatus !== 'running' || this.released) return
    // when and where in the run it arrived (its `signal.stored` row says when it was sent); journaled
    // before a wait takes it, so that the row lands before that wait's end
    const time = Date.now()
    journalEvent(this, { type: 'signal.received', runId: this.id, time, name, payload }, 'signal.delivered')
    this.waiting.received(name, payload, time)
  }

  /**
   * The run's shared context (the same state its tasks read), while the run
   * is live; afterwards, read its output with {@link Run.result}.
   */
  get context(): WorkflowContext {
    if (!this.#context) {
      if (this.released) throw new RunEndedError(`run ${this.id} has ended: its context is released`)
      try {
        this.#context = WorkflowContext.fromNative(native.runContext(this.handle))
      } catch (error) {
        throw fromNative(error)
      }
    }
    return this.#context
  }

  stats(): RunStats {
    return { tasks: this.steps, nativeCalls: this.crossings }
  }

  /** @internal Every event so far (its children's too). */
  history(): readonly RunEvent[] {
    return this.eventLog.all()
  }

  /** Every event of the run, replayed from the start, then live until the run ends. */
  events(): AsyncGenerator<RunEvent, void, undefined> {
    return this.eventLog.iterate()
  }

  /** The run's output; rejects with RunFailedError or RunStoppedError. */
  result(): Promise<O> {
    return this.outcome.promise() as Promise<O>
  }

  /** @internal `then(error, output)` once `result()` would settle, with no promise (a parent's workflow task waits so). */
  whenEnded(then: (error: Error | undefined, output: unknown) => void): void {
    this.outcome.listen(then)
  }
}
