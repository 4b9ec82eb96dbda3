/**
 * A run: schedules tasks from the start list, follows transitions
 * (`when`, `publish`, `do`, `join`), bounds cycles with the step limit, and
 * ends `succeeded`, `failed`, `cancelled` or `timed_out`.
 */
import { native } from '../binding'
import { WorkflowContext } from '../context'
import { ArcflowError, fromNative } from '../errors'
import type { NativeRun } from '../native'
import { encode } from '../values'
import type { WorkflowDefinition } from '../workflow/model'
import type { Action } from './attempt'
import { EventLog, type NewEvent, type RunEvent } from './events'
import { toError, toFailure, type Failure } from './failure'
import { TaskRun, type TaskHost, type TaskOutcome } from './task'

export type RunStatus = 'running' | 'succeeded' | 'failed' | 'cancelled' | 'timed_out'
export type CancelPolicy = 'cancel_running' | 'allow_finish'

/** The run failed (code `ARCFLOW_RUN_FAILED`): which task, which attempt, and the cause chain. */
export class RunFailedError extends ArcflowError {
  readonly runId: string
  readonly task?: string
  readonly attempt?: number
  readonly failure: Failure
  constructor(runId: string, failure: Failure, task?: string, attempt?: number) {
    const where = task ? ` in task '${task}'${attempt ? ` (attempt ${attempt})` : ''}` : ''
    super('ARCFLOW_RUN_FAILED', `run ${runId} failed${where}: ${failure.name}: ${failure.message}`, { cause: toError(failure) })
    this.runId = runId
    this.failure = failure
    if (task !== undefined) this.task = task
    if (attempt !== undefined) this.attempt = attempt
  }
}

/** The run was cancelled (`ARCFLOW_RUN_CANCELLED`) or timed out (`ARCFLOW_RUN_TIMED_OUT`). */
export class RunStoppedError extends ArcflowError {
  readonly runId: string
  constructor(runId: string, status: 'cancelled' | 'timed_out') {
    super(status === 'cancelled' ? 'ARCFLOW_RUN_CANCELLED' : 'ARCFLOW_RUN_TIMED_OUT', `run ${runId} ${status === 'cancelled' ? 'was cancelled' : 'timed out'}`)
    this.runId = runId
  }
}

export interface RunOptions {
  runId: string
  signal?: AbortSignal
  timeoutMs?: number
  actions: ReadonlyMap<string, Action>
  listeners: Array<(event: RunEvent) => void>
}

/** Counters of a run, for tests and tuning. */
export interface RunStats {
  /** Task activations started. */
  tasks: number
  /** Calls from JavaScript into the native core. */
  nativeCalls: number
}

const NEXT_FAIL = -1
const NEXT_UNHANDLED = -2

export class Run implements TaskHost {
  readonly id: string
  readonly workflow: WorkflowDefinition
  /** @internal */
  readonly native: NativeRun
  /** @internal */
  crossings = 0
  /** @internal */
  readonly timers = new Set<ReturnType<typeof setTimeout>>()
  #status: RunStatus = 'running'
  #context: WorkflowContext | undefined
  readonly #log: EventLog
  readonly #controller = new AbortController()
  readonly #actions: Action[]
  #active = 0
  #steps = 0
  #stopping = false
  #timer: ReturnType<typeof setTimeout> | undefined
  readonly #done: Promise<unknown>
  #resolve!: (output: unknown) => void
  #reject!: (error: Error) => void

  constructor(workflow: WorkflowDefinition, input: unknown, options: RunOptions) {
    this.id = options.runId
    this.workflow = workflow
    this.#actions = workflow.taskList.map((task) => options.actions.get(task.action) as Action)
    this.#log = new EventLog(options.listeners)
    this.#done = new Promise((resolve, reject) => {
      this.#resolve = resolve
      this.#reject = reject
    })
    this.#done.catch(() => {}) // result() is where a caller sees the failure
    const system = { run_id: this.id, workflow: workflow.name, started_at: new Date().toISOString() }
    this.crossings++
    this.native = new native.NativeRun(workflow.flow, input === undefined ? null : encode(input, 'input'), JSON.stringify(system))
    this.#emit({ type: 'run.started', workflow: workflow.name, input })
    try {
      this.crossings++
      this.native.initVars()
    } catch (error) {
      const failure = toFailure(fromNative(error))
      queueMicrotask(() => this.#fail({ name: failure.name, message: `initial vars: ${failure.message}` }))
      return
    }
    if (options.signal) {
      if (options.signal.aborted) queueMicrotask(() => void this.cancel())
      else options.signal.addEventListener('abort', () => void this.cancel(), { once: true })
    }
    if (options.timeoutMs !== undefined) this.#timer = setTimeout(() => this.#finish('timed_out'), options.timeoutMs)
    // start on a later tick so that a caller can attach listeners first
    queueMicrotask(() => {
      for (const index of workflow.startIndexes) this.#activate(index)
      this.#maybeFinish()
    })
  }

  get status(): RunStatus {
    return this.#status
  }

  /** The run's shared context (the same state its tasks read). */
  get context(): WorkflowContext {
    return (this.#context ??= WorkflowContext.fromNative(this.native.context()))
  }

  /** The run's abort signal (aborted when it is cancelled, times out or ends with work in flight). */
  get signal(): AbortSignal {
    return this.#controller.signal
  }

  stats(): RunStats {
    return { tasks: this.#steps, nativeCalls: this.crossings }
  }

  /** Every event of the run, replayed from the start, then live until the run ends. */
  events(): AsyncGenerator<RunEvent, void, undefined> {
    return this.#log.iterate()
  }

  /** The run's output; rejects with RunFailedError or RunStoppedError. */
  result(): Promise<unknown> {
    return this.#done
  }

  /**
   * Stops the run: nothing new starts; `cancel_running` (default) aborts
   * every in-flight handler's signal at once and ends the run (late
   * results are discarded); `allow_finish` lets in-flight work end first.
   * Resolves when the run has ended.
   */
  async cancel(options: { policy?: CancelPolicy } = {}): Promise<void> {
    if (this.#status === 'running') {
      this.#stopping = true
      if ((options.policy ?? 'cancel_running') === 'cancel_running') this.#finish('cancelled')
      else this.#maybeFinish()
    }
    await this.#done.catch(() => undefined)
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
  }

  #emit(event: NewEvent): void {
    // stamped in place: a spread with extra keys is a slow path in V8
    const stamped = event as RunEvent
    stamped.runId = this.id
    stamped.time = Date.now()
    this.#log.push(stamped)
  }

  #activate(index: number): void {
    if (!this.accepting()) return
    if (++this.#steps > this.workflow.stepLimit) {
      const name = this.workflow.taskList[index]!.name
      this.#fail({ name: 'StepLimitError', message: `step limit of ${this.workflow.stepLimit} task executions reached (a cycle?); raise step_limit if this is intended` }, name)
      return
    }
    this.#active++
    new TaskRun(this.workflow.taskList[index]!, this, this.#actions[index]!).start()
  }

  /** @internal A task activation ended: record it, follow its transitions. */
  taskDone(taskRun: TaskRun, outcome: TaskOutcome): void {
    this.#active--
    if (this.#status !== 'running') return
    if (outcome.status !== 'cancelled') this.#complete(taskRun, outcome)
    this.#maybeFinish()
  }

  #complete(taskRun: TaskRun, outcome: Exclude<TaskOutcome, { status: 'cancelled' }>): void {
    const task = taskRun.task
    let payload: string
    if (outcome.status === 'succeeded') {
      try {
        payload = encode(outcome.result, `result of task '${task.name}'`)
      } catch (error) {
        // a result that cannot be workflow data fails the task
        outcome = { status: 'failed', error: toFailure(error), attempt: outcome.attempt }
        payload = JSON.stringify(outcome.error)
      }
    } else payload = JSON.stringify(outcome.error)
    const { attempt } = outcome
    if (outcome.status === 'succeeded') {
      this.#emit({ type: 'task.succeeded', task: task.name, attempt, result: outcome.result })
    } else {
      this.#emit(outcome.status === 'timed_out'
        ? { type: 'task.timed_out', task: task.name, attempt }
        : { type: 'task.failed', task: task.name, attempt, error: outcome.error })
    }
    let next: number[]
    try {
      this.crossings++
      next = this.native.complete(task.index, outcome.status, payload, !this.#stopping)
    } catch (error) {
      const failure = toFailure(fromNative(error))
      return this.#fail({ name: 'TransitionError', message: failure.message, cause: failure }, task.name, attempt)
    }
    if (this.#stopping) return
    for (const target of next) {
      if (target === NEXT_FAIL) {
        const failure = outcome.status === 'succeeded' ? { name: 'Error', message: `task '${task.name}' chose to fail the run` } : outcome.error
        return this.#fail(failure, task.name, attempt)
      }
      if (target === NEXT_UNHANDLED) return this.#fail((outcome as { error: Failure }).error, task.name, attempt)
      this.#activate(target)
    }
  }

  #fail(failure: Failure, task?: string, attempt?: number): void {
    if (this.#status !== 'running') return
    this.#emit(task ? { type: 'run.failed', error: failure, task } : { type: 'run.failed', error: failure })
    this.#end('failed', new RunFailedError(this.id, failure, task, attempt))
  }

  #maybeFinish(): void {
    if (this.#status !== 'running' || this.#active > 0) return
    if (this.#stopping) return this.#finish('cancelled')
    let output: unknown
    try {
      this.crossings++
      const json = this.native.output()
      output = json === null ? undefined : JSON.parse(json)
    } catch (error) {
      const failure = toFailure(fromNative(error))
      return this.#fail({ name: 'OutputError', message: failure.message, cause: failure })
    }
    this.#emit({ type: 'run.succeeded', output })
    this.#end('succeeded', undefined, output)
  }

  #finish(status: 'cancelled' | 'timed_out'): void {
    if (this.#status !== 'running') return
    this.#emit({ type: status === 'cancelled' ? 'run.cancelled' : 'run.timed_out' })
    this.#end(status, new RunStoppedError(this.id, status))
  }

  #end(status: Exclude<RunStatus, 'running'>, error?: Error, output?: unknown): void {
    this.#status = status
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    for (const timer of this.timers) clearTimeout(timer)
    this.timers.clear()
    // whatever is still in flight is aborted, and its late result discarded
    // (an abort dispatches events: skip it when nothing is in flight)
    if (this.#active > 0 && !this.#controller.signal.aborted) this.#controller.abort(new Error(`run ${status}`))
    this.#log.close()
    if (error) this.#reject(error)
    else this.#resolve(output)
  }
}
