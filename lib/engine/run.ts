/**
 * A run: schedules tasks from the start list, follows transitions
 * (`when`, `publish`, `do`, `join`), bounds cycles with the step limit, and
 * ends `succeeded`, `failed`, `cancelled` or `timed_out`.
 */
import { WorkflowContext } from '../context'
import { ArcflowError } from '../errors'
import type { TaskDefinition, WorkflowDefinition } from '../workflow/model'
import type { Action } from './attempt'
import { EventLog, type NewEvent, type RunEvent } from './events'
import { toError, type Failure } from './failure'
import { runTask, type TaskEnv, type TaskOutcome } from './task'

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

export class Run {
  readonly id: string
  readonly workflow: WorkflowDefinition
  readonly context: WorkflowContext
  #status: RunStatus = 'running'
  readonly #log: EventLog
  readonly #controller = new AbortController()
  readonly #actions: ReadonlyMap<string, Action>
  readonly #joins = new Map<string, number>()
  readonly #inbound = new Map<string, number>()
  #active = 0
  #steps = 0
  #stopping: 'cancelled' | undefined
  #timer: ReturnType<typeof setTimeout> | undefined
  readonly #done: Promise<unknown>
  #settle!: { resolve: (output: unknown) => void; reject: (error: Error) => void }

  constructor(workflow: WorkflowDefinition, input: unknown, options: RunOptions) {
    this.id = options.runId
    this.workflow = workflow
    this.#actions = options.actions
    this.#log = new EventLog(options.listeners)
    this.#done = new Promise((resolve, reject) => (this.#settle = { resolve, reject }))
    this.#done.catch(() => {}) // result() is where a caller sees the failure
    this.context = new WorkflowContext({
      input,
      system: { run_id: this.id, workflow: workflow.name, started_at: new Date().toISOString() },
    })
    for (const task of workflow.tasks.values()) for (const t of task.next) for (const target of t.do) this.#inbound.set(target, (this.#inbound.get(target) ?? 0) + 1)
    this.#emit({ type: 'run.started', workflow: workflow.name, input })
    try {
      for (const { name, value } of workflow.vars) this.context.setVar(name, this.context.renderJson(value))
    } catch (error) {
      queueMicrotask(() => this.#fail({ name: 'Error', message: `initial vars: ${(error as Error).message}` }))
      return
    }
    if (options.signal) {
      if (options.signal.aborted) queueMicrotask(() => void this.cancel())
      else options.signal.addEventListener('abort', () => void this.cancel(), { once: true })
    }
    if (options.timeoutMs !== undefined) this.#timer = setTimeout(() => this.#finish('timed_out'), options.timeoutMs)
    // start on a later tick so that a caller can attach listeners first
    queueMicrotask(() => {
      for (const name of workflow.start) this.#activate(name)
      this.#maybeFinish()
    })
  }

  get status(): RunStatus {
    return this.#status
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
   * every in-flight handler's signal at once, `allow_finish` lets them end.
   * Resolves when the run has ended.
   */
  async cancel(options: { policy?: CancelPolicy } = {}): Promise<void> {
    if (this.#status === 'running') {
      this.#stopping = 'cancelled'
      if ((options.policy ?? 'cancel_running') === 'cancel_running') this.#controller.abort(new Error('run cancelled'))
      this.#maybeFinish()
    }
    await this.#done.catch(() => undefined)
  }

  #emit(event: NewEvent): void {
    // stamped in place: a spread with extra keys is a slow path in V8
    const stamped = event as RunEvent
    stamped.runId = this.id
    stamped.time = Date.now()
    this.#log.push(stamped)
  }

  #activate(name: string): void {
    if (this.#status !== 'running' || this.#stopping) return
    const task = this.workflow.tasks.get(name) as TaskDefinition
    if (++this.#steps > this.workflow.stepLimit) {
      this.#fail({ name: 'StepLimitError', message: `step limit of ${this.workflow.stepLimit} task executions reached (a cycle?); raise step_limit if this is intended` }, name)
      return
    }
    this.#active++
    const env: TaskEnv = {
      runId: this.id,
      ctx: this.context,
      action: this.#actions.get(task.action) as Action,
      signal: this.#controller.signal,
      stopping: () => this.#stopping !== undefined || this.#status !== 'running',
      emit: (event) => this.#emit(event),
    }
    void runTask(task, env).then((outcome) => {
      this.#active--
      if (this.#status === 'running') this.#complete(task, outcome)
      this.#maybeFinish()
    })
  }

  #complete(task: TaskDefinition, outcome: TaskOutcome): void {
    const { attempt } = outcome
    if (outcome.status === 'cancelled') return
    if (outcome.status === 'succeeded') {
      this.context.setTaskOutcome(task.name, { status: 'succeeded', result: outcome.result })
      this.#emit({ type: 'task.succeeded', task: task.name, attempt, result: outcome.result })
    } else {
      this.context.setTaskOutcome(task.name, { status: outcome.status, error: outcome.error })
      this.#emit(outcome.status === 'timed_out'
        ? { type: 'task.timed_out', task: task.name, attempt }
        : { type: 'task.failed', task: task.name, attempt, error: outcome.error })
    }
    if (this.#stopping) return
    const view = this.context.withOutcome(
      outcome.status === 'succeeded' ? { status: 'succeeded', result: outcome.result } : { status: outcome.status, error: outcome.error },
    )
    let fired = false
    try {
      for (const transition of task.next) {
        if (transition.when && !view.evaluate(transition.when)) continue
        fired = true
        for (const { name, value } of transition.publish) this.context.setVar(name, view.renderJson(value))
        for (const target of transition.do) {
          if (target === 'fail') {
            const failure = outcome.status === 'succeeded' ? { name: 'Error', message: `task '${task.name}' chose to fail the run` } : outcome.error
            return this.#fail(failure, task.name, attempt)
          }
          if (target !== 'noop') this.#arrive(target)
        }
      }
    } catch (error) {
      return this.#fail({ name: 'TransitionError', message: (error as Error).message }, task.name, attempt)
    }
    // a failure no transition handled fails the run
    if (outcome.status !== 'succeeded' && !fired) this.#fail(outcome.error, task.name, attempt)
  }

  /** A transition reached `name`: run it, or count towards its join. */
  #arrive(name: string): void {
    const join = this.workflow.tasks.get(name)?.join
    if (join === undefined) return this.#activate(name)
    const needed = join === 'all' ? (this.#inbound.get(name) ?? 1) : join
    const count = (this.#joins.get(name) ?? 0) + 1
    if (count < needed) {
      this.#joins.set(name, count)
      return
    }
    this.#joins.delete(name)
    this.#activate(name)
  }

  #fail(failure: Failure, task?: string, attempt?: number): void {
    if (this.#status !== 'running') return
    this.#emit({ type: 'run.failed', error: failure, ...(task ? { task } : {}) })
    this.#end('failed', new RunFailedError(this.id, failure, task, attempt))
  }

  #maybeFinish(): void {
    if (this.#status !== 'running' || this.#active > 0) return
    if (this.#stopping) return this.#finish('cancelled')
    let output: unknown
    try {
      output = this.workflow.output ? this.context.renderJson(this.workflow.output) : undefined
    } catch (error) {
      return this.#fail({ name: 'OutputError', message: (error as Error).message })
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
    // whatever is still in flight is aborted, and its late result discarded
    // (an abort dispatches events: skip it when nothing is in flight)
    if (this.#active > 0 && !this.#controller.signal.aborted) this.#controller.abort(new Error(`run ${status}`))
    this.#log.close()
    if (error) this.#settle.reject(error)
    else this.#settle.resolve(output)
  }
}
