/**
 * One activation of a task: its attempts with retries, or, for a
 * with-items task, every item with at most `concurrency` in flight. The
 * first attempt's input comes with the answer that scheduled the task;
 * item inputs are rendered natively a window at a time (each read through
 * `with_item`: O(1), never a copy of the context). Callbacks, not async
 * functions: each `await` costs a promise and a microtask, and this is
 * the per-task path.
 */
import { native } from '../binding'
import { fromNative, fromNativeData } from '../errors'
import type { TaskDefinition } from '../workflow/model'
import { Attempt, type Action, type AttemptStatus } from './attempt'
import type { RunEvent } from './events'
import { toFailure, type Failure } from './failure'
import { retryDelay } from './retry'

export type TaskOutcome =
  | { status: 'succeeded'; result: unknown; attempt: number }
  | { status: 'failed' | 'timed_out'; error: Failure; attempt: number }
  | { status: 'cancelled'; attempt: number }

/** How the core hands over an input: rendered, failed, none, or "ask for the items". */
export const INPUT_OK = 0
export const INPUT_ERROR = 1
export const INPUT_NONE = 2
export const INPUT_ITEMS = 3

/** What a task needs from its run. */
export interface TaskHost {
  readonly id: string
  /** The run's handle in the native registry. */
  readonly handle: number
  /** Calls into native code, counted for `run.stats()`. */
  crossings: number
  readonly signal: AbortSignal
  /** A timer to clear when the run ends. */
  track(timer: ReturnType<typeof setTimeout>): void
  untrack(timer: ReturnType<typeof setTimeout>): void
  /** The run still accepts new work (not ended, not stopping). */
  accepting(): boolean
  /** The run has not ended. */
  live(): boolean
  emit(event: RunEvent): void
  taskDone(run: TaskRun, outcome: TaskOutcome): void
}

function event(host: TaskHost, type: RunEvent['type'], task: string, attempt: number, index: number): RunEvent {
  const e = { type, runId: host.id, time: Date.now(), task, attempt } as RunEvent & { index?: number }
  if (index >= 0) e.index = index
  return e
}

/** A native error answered as data, as a failure. */
export function dataFailure(data: unknown): Failure {
  return toFailure(fromNativeData(data as Parameters<typeof fromNativeData>[0]))
}

/** Item inputs rendered per native call: the window, within bounds. */
function chunkSize(concurrency: number): number {
  return Math.min(256, Math.max(concurrency, 32))
}

export class TaskRun {
  readonly task: TaskDefinition
  readonly host: TaskHost
  readonly #action: Action
  #finished = false
  // with-items state
  #withItems = false
  /** An item failed the task: its siblings stop. */
  #stopped = false
  #controller: AbortController | undefined
  #stopItems: (() => void) | undefined
  #batch = -1
  #items: unknown[] = []
  #results: unknown[] = []
  #next = 0
  #inFlight = 0
  /** Rendered inputs `[kind, value, ...]` of items from `#inputsFrom`. */
  #inputs: unknown[] = []
  #inputsFrom = 0

  constructor(task: TaskDefinition, host: TaskHost, action: Action) {
    this.task = task
    this.host = host
    this.#action = action
  }

  /** `kind` and `value`: the first attempt's input, as the core answered it. */
  start(kind: number, value: unknown): void {
    this.host.emit({ type: 'task.started', runId: this.host.id, time: Date.now(), task: this.task.name, attempt: 1 })
    if (kind !== INPUT_ITEMS) return this.#begin(1, -1, kind, value)
    const host = this.host
    let answer: [number, unknown[]]
    try {
      host.crossings++
      answer = JSON.parse(native.runBeginItems(host.handle, this.task.index)) as [number, unknown[]]
    } catch (error) {
      const failure = toFailure(fromNative(error))
      if (/must give a list/.test(failure.message)) failure.name = 'TypeError'
      return this.#finish({ status: 'failed', error: failure, attempt: 1 })
    }
    this.#batch = answer[0]
    this.#items = answer[1]
    this.#results = new Array(this.#items.length)
    this.#withItems = true
    this.#pump()
  }

  /**
   * What the task's handlers see: the run's signal, or for a with-items
   * task its own (an item that fails the task stops its siblings), made on
   * first use.
   */
  get signal(): AbortSignal {
    if (!this.#withItems) return this.host.signal
    if (!this.#controller) {
      const controller = new AbortController()
      this.#controller = controller
      const parent = this.host.signal
      if (this.#stopped || this.#finished) controller.abort(new Error(`task '${this.task.name}' has ended`))
      else if (parent.aborted) controller.abort(parent.reason)
      else {
        this.#stopItems = (): void => controller.abort(parent.reason)
        parent.addEventListener('abort', this.#stopItems, { once: true })
      }
    }
    return this.#controller.signal
  }

  #pump(): void {
    const concurrency = this.task.with!.concurrency
    const count = this.#items.length
    while (!this.#finished && this.#inFlight < concurrency && this.#next < count && this.host.accepting()) {
      const index = this.#next++
      this.#inFlight++
      // literals with every field at once: one object shape per event type
      this.host.emit({ type: 'item.started', runId: this.host.id, time: Date.now(), task: this.task.name, attempt: 1, index })
      let offset = (index - this.#inputsFrom) * 2
      if (offset < 0 || offset >= this.#inputs.length) {
        if (!this.#fetchInputs(index, chunkSize(concurrency))) return
        offset = 0
      }
      this.#begin(1, index, this.#inputs[offset] as number, this.#inputs[offset + 1])
    }
    if (this.#inFlight === 0 && !this.#finished) {
      if (this.#next >= count) this.#finish({ status: 'succeeded', result: this.#results, attempt: 1 })
      else this.#finish({ status: 'cancelled', attempt: 1 })
    }
  }

  /** Renders the inputs of items `from..from + count`; false if the task failed instead. */
  #fetchInputs(from: number, count: number): boolean {
    try {
      this.host.crossings++
      this.#inputs = JSON.parse(native.runItemInputs(this.host.handle, this.task.index, this.#batch, from, count)) as unknown[]
      this.#inputsFrom = from
      return true
    } catch (error) {
      this.#finish({ status: 'failed', error: toFailure(fromNative(error)), attempt: 1 })
      return false
    }
  }

  /** Starts an attempt with an input the core answered with. */
  #begin(attempt: number, index: number, kind: number, value: unknown): void {
    if (kind === INPUT_ERROR) {
      // later, not nested: a list whose every input fails must not recurse per item
      const failure = dataFailure(value)
      queueMicrotask(() => {
        if (!this.#finished && this.host.live()) this.#unitDone(index, attempt, 'failed', failure)
      })
      return
    }
    const item = index < 0 ? undefined : this.#items[index]
    new Attempt(this, attempt, index, item, this.task.timeoutMs).run(this.#action, kind === INPUT_OK ? value : undefined)
  }

  /** A retry: the input is rendered again (the context may have changed). */
  #retry(attempt: number, index: number): void {
    const host = this.host
    let kind: number
    let value: unknown
    try {
      host.crossings++
      if (index < 0) {
        const json = native.runTaskInput(host.handle, this.task.index)
        kind = json === null ? INPUT_NONE : INPUT_OK
        value = json === null ? undefined : JSON.parse(json)
      } else {
        ;[kind, value] = JSON.parse(native.runItemInputs(host.handle, this.task.index, this.#batch, index, 1)) as [number, unknown]
      }
    } catch (error) {
      return this.#unitDone(index, attempt, 'failed', toFailure(fromNative(error)))
    }
    this.#begin(attempt, index, kind, value)
  }

  /** An attempt ended (once per attempt; see `Attempt`). */
  settled(attempt: Attempt, status: AttemptStatus, value: unknown): void {
    if (this.#finished || !this.host.live()) return // late: discarded
    const index = attempt.index ?? -1
    if (status === 'succeeded') return this.#unitDone(index, attempt.attempt, status, value)
    const failure = toFailure(value)
    const retry = this.task.retry
    if (retry && attempt.attempt <= retry.count && !this.#stopped && this.host.accepting() && this.#retryAllowed(status, failure)) {
      const delayMs = retryDelay(retry, attempt.attempt)
      const e = event(this.host, 'task.retrying', this.task.name, attempt.attempt, index) as RunEvent & { error: Failure; delayMs: number }
      e.error = failure
      e.delayMs = delayMs
      this.host.emit(e)
      const host = this.host
      const timer = setTimeout(() => {
        host.untrack(timer)
        if (this.#finished || !this.host.live()) return
        if (!this.host.accepting()) return this.#unitDone(index, attempt.attempt, status, failure)
        this.#retry(attempt.attempt + 1, index)
      }, delayMs)
      host.track(timer)
      return
    }
    this.#unitDone(index, attempt.attempt, status, failure)
  }

  #retryAllowed(status: AttemptStatus, failure: Failure): boolean {
    if (!this.task.retry?.when) return true
    try {
      this.host.crossings++
      return native.runRetryAllowed(this.host.handle, this.task.index, status === 'timed_out' ? 2 : 1, JSON.stringify(failure))
    } catch {
      return false
    }
  }

  log(attempt: Attempt, message: string, data?: unknown): void {
    if (this.#finished || !this.host.live()) return
    const e = event(this.host, 'task.log', this.task.name, attempt.attempt, attempt.index ?? -1) as RunEvent & { message: string; data?: unknown }
    e.message = String(message)
    if (data !== undefined) e.data = data
    this.host.emit(e)
  }

  /** The task (index < 0) or one item ended, after its retries. */
  #unitDone(index: number, attempt: number, status: AttemptStatus, value: unknown): void {
    if (index < 0) {
      return this.#finish(status === 'succeeded'
        ? { status, result: value, attempt }
        : { status, error: value as Failure, attempt })
    }
    this.#inFlight--
    if (status === 'succeeded') this.#results[index] = value
    else if (this.task.continueOnError) this.#results[index] = { error: value }
    this.host.emit({ type: 'item.completed', runId: this.host.id, time: Date.now(), task: this.task.name, attempt, index, status })
    if (status !== 'succeeded' && !this.task.continueOnError) {
      this.#stopped = true
      this.#controller?.abort(new Error(`item ${index} of task '${this.task.name}' failed`))
      return this.#finish({ status, error: value as Failure, attempt })
    }
    this.#pump()
  }

  #finish(outcome: TaskOutcome): void {
    if (this.#finished) return
    this.#finished = true
    if (this.#batch >= 0) {
      this.host.crossings++
      native.runEndItems(this.host.handle, this.#batch)
      this.#inputs = []
    }
    if (this.#stopItems) this.host.signal.removeEventListener('abort', this.#stopItems)
    this.host.taskDone(this, outcome)
  }
}
