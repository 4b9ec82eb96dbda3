/**
 * One activation of a task: its attempts with retries, or, for a
 * with-items task, every item with at most `concurrency` in flight. The
 * input of each attempt is one native call (`taskInput` / `itemInput`,
 * which reads the item through `with_item`: O(1), never a copy of the
 * context). Callbacks, not async functions: each `await` is a microtask
 * and a promise, and this is the per-task path.
 */
import { fromNative } from '../errors'
import type { NativeRun } from '../native'
import type { TaskDefinition } from '../workflow/model'
import { Attempt, type Action, type AttemptStatus } from './attempt'
import type { RunEvent } from './events'
import { toFailure, type Failure } from './failure'
import { retryDelay } from './retry'

export type TaskOutcome =
  | { status: 'succeeded'; result: unknown; attempt: number }
  | { status: 'failed' | 'timed_out'; error: Failure; attempt: number }
  | { status: 'cancelled'; attempt: number }

/** What a task needs from its run. */
export interface TaskHost {
  readonly id: string
  readonly native: NativeRun
  /** Calls into native code, counted for `run.stats()`. */
  crossings: number
  readonly signal: AbortSignal
  /** Timers to clear when the run ends. */
  readonly timers: Set<ReturnType<typeof setTimeout>>
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

const NOT_A_LIST = 'TypeError'

export class TaskRun {
  readonly task: TaskDefinition
  readonly host: TaskHost
  readonly #action: Action
  #finished = false
  // with-items state
  #controller: AbortController | undefined
  #stopItems: (() => void) | undefined
  #batch = -1
  #items: unknown[] = []
  #results: unknown[] = []
  #next = 0
  #inFlight = 0

  constructor(task: TaskDefinition, host: TaskHost, action: Action) {
    this.task = task
    this.host = host
    this.#action = action
  }

  start(): void {
    this.host.emit(event(this.host, 'task.started', this.task.name, 1, -1))
    if (!this.task.with) return this.#attempt(1, -1)
    const host = this.host
    let items: unknown
    try {
      host.crossings++
      const batch = host.native.beginItems(this.task.index)
      this.#batch = batch.id
      items = JSON.parse(batch.json)
    } catch (error) {
      const failure = toFailure(fromNative(error))
      if (/must give a list/.test(failure.message)) failure.name = NOT_A_LIST
      return this.#finish({ status: 'failed', error: failure, attempt: 1 })
    }
    this.#items = items as unknown[]
    this.#results = new Array(this.#items.length)
    // the task's own signal: an item that fails the task stops its siblings
    const controller = new AbortController()
    this.#controller = controller
    this.#stopItems = (): void => controller.abort(host.signal.reason)
    host.signal.addEventListener('abort', this.#stopItems, { once: true })
    this.#pump()
  }

  #pump(): void {
    const concurrency = this.task.with!.concurrency
    const items = this.#items
    while (!this.#finished && this.#inFlight < concurrency && this.#next < items.length && this.host.accepting()) {
      const index = this.#next++
      this.#inFlight++
      this.host.emit(event(this.host, 'item.started', this.task.name, 1, index))
      this.#attempt(1, index)
    }
    if (this.#inFlight === 0 && !this.#finished) {
      if (this.#next >= items.length) this.#finish({ status: 'succeeded', result: this.#results, attempt: 1 })
      else this.#finish({ status: 'cancelled', attempt: 1 })
    }
  }

  #attempt(attempt: number, index: number): void {
    const host = this.host
    let input: unknown
    try {
      host.crossings++
      const json = index < 0 ? host.native.taskInput(this.task.index) : host.native.itemInput(this.task.index, this.#batch, index)
      input = json === null ? undefined : JSON.parse(json)
    } catch (error) {
      // later, not nested: a list whose every input fails must not recurse per item
      const failure = toFailure(fromNative(error))
      queueMicrotask(() => {
        if (!this.#finished && this.host.live()) this.#unitDone(index, attempt, 'failed', failure)
      })
      return
    }
    const signal = this.#controller ? this.#controller.signal : host.signal
    new Attempt(this, attempt, index, index < 0 ? undefined : this.#items[index], signal, this.task.timeoutMs).run(this.#action, input)
  }

  /** An attempt ended (once per attempt; see `Attempt`). */
  settled(attempt: Attempt, status: AttemptStatus, value: unknown): void {
    if (this.#finished || !this.host.live()) return // late: discarded
    const index = attempt.index ?? -1
    if (status === 'succeeded') return this.#unitDone(index, attempt.attempt, status, value)
    const failure = toFailure(value)
    const retry = this.task.retry
    const signal = this.#controller ? this.#controller.signal : this.host.signal
    if (retry && attempt.attempt <= retry.count && !signal.aborted && this.host.accepting() && this.#retryAllowed(status, failure)) {
      const delayMs = retryDelay(retry, attempt.attempt)
      const e = event(this.host, 'task.retrying', this.task.name, attempt.attempt, index) as RunEvent & { error: Failure; delayMs: number }
      e.error = failure
      e.delayMs = delayMs
      this.host.emit(e)
      const timers = this.host.timers
      const timer = setTimeout(() => {
        timers.delete(timer)
        if (this.#finished || !this.host.live()) return
        if (!this.host.accepting()) return this.#unitDone(index, attempt.attempt, status, failure)
        this.#attempt(attempt.attempt + 1, index)
      }, delayMs)
      timers.add(timer)
      return
    }
    this.#unitDone(index, attempt.attempt, status, failure)
  }

  #retryAllowed(status: AttemptStatus, failure: Failure): boolean {
    if (!this.task.retry?.when) return true
    try {
      this.host.crossings++
      return this.host.native.retryAllowed(this.task.index, status, JSON.stringify(failure))
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
    const e = event(this.host, 'item.completed', this.task.name, attempt, index) as RunEvent & { status: AttemptStatus }
    e.status = status
    this.host.emit(e)
    if (status !== 'succeeded' && !this.task.continueOnError) {
      this.#controller!.abort(new Error(`item ${index} of task '${this.task.name}' failed`))
      return this.#finish({ status, error: value as Failure, attempt })
    }
    this.#pump()
  }

  #finish(outcome: TaskOutcome): void {
    if (this.#finished) return
    this.#finished = true
    if (this.#batch >= 0) {
      this.host.crossings++
      this.host.native.endItems(this.#batch)
    }
    if (this.#stopItems) this.host.signal.removeEventListener('abort', this.#stopItems)
    this.host.taskDone(this, outcome)
  }
}
