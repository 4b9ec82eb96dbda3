/**
 * One activation of a task: its attempts with retries, or, for a
 * with-items task, every item with at most `concurrency` in flight. The
 * first attempt's input comes with the answer that scheduled the task;
 * item inputs are rendered natively a window at a time (each read through
 * `with_item`: O(1), never a copy of the context). Callbacks, not async
 * functions: each `await` costs a promise and a microtask, and this is
 * the per-task path.
 */
import { setMaxListeners } from 'node:events'
import { native } from '../binding'
import { fromNative, fromNativeData } from '../errors'
import type { TaskDefinition } from '../workflow/model'
import { Attempt, type Action, type AttemptStatus } from './attempt'
import type { RunEvent } from './events'
import { toFailure, type Failure } from './failure'
import { estimate } from './metering'
import { INPUT_ERROR, INPUT_ITEMS, INPUT_NONE, INPUT_OK, INPUT_UNCOVERED, interruptedFailure, stepAttempt, type ResumedActivation, type TaskHost, type TaskOutcome } from './task-host'

export { INPUT_ERROR, INPUT_ITEMS, INPUT_NONE, INPUT_OK, INPUT_UNCOVERED, interruptedFailure, stepAttempt, type ResumedActivation, type TaskHost, type TaskOutcome } from './task-host'
import { retryDelay } from './retry'
import { encode } from '../values'

const STATUS_CODE = { succeeded: 0, failed: 1, timed_out: 2 } as const

/** Journal statuses of items, as the core answers them. */
const ITEM_STATUS = ['succeeded', 'failed', 'timed_out'] as const

function event(host: TaskHost, type: RunEvent['type'], task: string, attempt: number, index: number): RunEvent {
  const e = { type, runId: host.id, time: Date.now(), task, attempt } as RunEvent & { index?: number }
  if (index >= 0) e.index = index
  return e
}

/** A native error answered as data, as a failure. */
export function dataFailure(data: unknown): Failure {
  return toFailure(fromNativeData(data as Parameters<typeof fromNativeData>[0]))
}

/**
 * Items started without a turn of the event loop: then the pump yields
 * (`setImmediate`), so that items whose actions settle at once do not
 * starve timers and I/O for the whole list.
 */
const ITEMS_PER_TURN = 1024

/** Item inputs rendered per native call: the window, within bounds. */
function chunkSize(concurrency: number): number {
  return Math.min(256, Math.max(concurrency, 32))
}

export class TaskRun {
  readonly task: TaskDefinition
  readonly host: TaskHost
  /** The task's activation number in the run (durable runs journal it). */
  readonly step: number
  readonly #action: Action
  #finished = false
  /** Items a resume found done: their results are kept, they do not run again. */
  #resumedItems: Map<number, [number, number, unknown]> | undefined
  /** @internal Metered: the last attempt's reservation and charge, settled by the task's completion. */
  charge: [number, number] | undefined
  /** Metered durable runs: an item's reservation and charge, settled with its journal write (set and used in one call chain). */
  #itemCharge: [number, number] | undefined
  /** Waiting for the store to drain, or for the event loop to turn, before starting more items. */
  #throttled = false
  /** Items started since the pump last yielded. */
  #burst = 0
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

  constructor(task: TaskDefinition, host: TaskHost, action: Action, step: number) {
    this.task = task
    this.host = host
    this.#action = action
    this.step = step
  }

  /**
   * `kind` and `value`: the first attempt's input, as the core answered it.
   * A resumed activation goes on from what its journal holds: an
   * interrupted attempt counts as failed (retry policy), a retry that was
   * waiting starts now, items that ended keep their result.
   */
  start(kind: number, value: unknown, resumed?: ResumedActivation, prereserved = -1): void {
    const first = resumed && kind !== INPUT_ITEMS ? Math.max(resumed.attempt, 1) : 1
    this.host.emit({ type: 'task.started', runId: this.host.id, time: Date.now(), task: this.task.name, attempt: first })
    if (kind === INPUT_UNCOVERED) return this.host.insufficientBalance(this.task.name, 1, -1, this.host.meter!.costs[this.task.index] as number, value as number)
    if (kind !== INPUT_ITEMS) {
      if (!resumed || resumed.attempt === 0) return this.#begin(1, -1, kind, value, prereserved)
      if (resumed.interrupted) {
        const failure = interruptedFailure(resumed.attempt)
        return queueMicrotask(() => this.#failed(resumed.attempt, -1, 'failed', failure))
      }
      return this.#retry(resumed.attempt + 1, -1) // a retry was due
    }
    if (resumed?.items) this.#resumedItems = new Map(resumed.items.map(([index, attempt, status, payload]) => [index, [attempt, status, payload]]))
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
    this.host.emit({ type: 'task.items', runId: host.id, time: Date.now(), task: this.task.name, attempt: 1, count: this.#items.length })
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
      // one listener per in-flight handler is expected, not a leak
      setMaxListeners(0, controller.signal)
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
    while (!this.#finished && !this.#throttled && this.#inFlight < concurrency && this.#next < count && this.host.accepting()) {
      if (++this.#burst > ITEMS_PER_TURN) {
        this.#yieldTurn()
        break
      }
      const index = this.#next++
      if (this.#resumedItems !== undefined && this.#resumeItem(index)) continue
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
    if (this.#inFlight === 0 && !this.#finished && !this.#throttled) {
      if (this.#next >= count) this.#finish({ status: 'succeeded', result: this.#results, attempt: 1 })
      else this.#finish({ status: 'cancelled', attempt: 1 })
    }
  }

  #yieldTurn(): void {
    this.#burst = 0
    this.#throttled = true
    setImmediate(() => {
      this.#throttled = false
      if (!this.#finished && this.host.live()) this.#pump()
    })
  }

  /**
   * An item a resume found in the journal: ended (its result is kept; true)
   * or waiting for a retry (it starts now at its next attempt; true), else
   * false: it runs from its first attempt.
   */
  #resumeItem(index: number): boolean {
    const journaled = this.#resumedItems!.get(index)
    if (journaled === undefined) return false
    const [attempt, status, payload] = journaled
    if (status === 3) {
      this.#inFlight++
      this.host.emit({ type: 'item.started', runId: this.host.id, time: Date.now(), task: this.task.name, attempt: attempt + 1, index })
      this.#retry(attempt + 1, index)
      return true
    }
    const ended = ITEM_STATUS[status]!
    if (ended === 'succeeded') this.#results[index] = payload
    else if (this.task.continueOnError) this.#results[index] = { error: payload }
    else {
      // the item had failed the task just before the process died
      this.#stopped = true
      this.#finish({ status: ended, error: payload as Failure, attempt })
    }
    return true
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
  #begin(attempt: number, index: number, kind: number, value: unknown, prereserved = -1): void {
    if (kind === INPUT_ERROR) {
      // later, not nested: a list whose every input fails must not recurse per item
      const failure = dataFailure(value)
      queueMicrotask(() => {
        if (!this.#finished && this.host.live()) this.#unitDone(index, attempt, 'failed', failure)
      })
      return
    }
    const item = index < 0 ? undefined : this.#items[index]
    const input = kind === INPUT_OK ? value : undefined
    const meter = this.host.meter
    let reserved = -1
    if (prereserved >= 0) {
      reserved = prereserved // counted by the run when the core answered
    } else if (meter) {
      const amount = estimate(meter, this.task.index, this.task.name, input, index)
      if (typeof amount !== 'number') {
        queueMicrotask(() => this.#failed(attempt, index, 'failed', amount))
        return
      }
      this.host.crossings++
      if (!native.meterReserve(this.host.handle, amount)) return this.host.insufficientBalance(this.task.name, attempt, index, amount)
      reserved = amount
      this.host.reservedCredits += amount
    }
    const run = new Attempt(this, attempt, index, item, this.task.timeoutMs)
    run.reserved = reserved
    run.run(this.#action, input)
  }

  /**
   * Ends an attempt's reservation: the charge if it counts, the rest back.
   * A late attempt (its task or run over) is not billed; once the run has
   * ended its reservation was already returned with the run's.
   */
  #settleCharge(attempt: Attempt, status: AttemptStatus): void {
    const meter = this.host.meter!
    const host = this.host
    const reserved = attempt.reserved
    attempt.reserved = -1
    if (!host.live()) return
    host.reservedCredits -= reserved
    if (this.#finished) {
      host.crossings++
      return native.meterRelease(meter.handle, meter.account, reserved)
    }
    const charged = status === 'succeeded' || meter.billFailed ? (attempt.charged ?? reserved) : 0
    if (status === 'succeeded' && attempt.index === undefined) {
      // the task's completion settles it (no call of its own)
      this.charge = [reserved, charged]
      return
    }
    if (status === 'succeeded' && host.durable) {
      // the item's journal write settles it, in the same group of writes
      this.#itemCharge = [reserved, charged]
      return
    }
    host.crossings++
    // the unit: task * 2^36 + step * 2^16 + attempt
    native.meterSettle(host.handle, this.task.index * 68719476736 + this.step * 65536 + attempt.attempt, attempt.index ?? -1, reserved, charged)
  }

  /** A retry: the input is rendered again (the context may have changed). */
  #retry(attempt: number, index: number): void {
    const host = this.host
    let kind: number
    let value: unknown
    try {
      host.crossings++
      if (index < 0) {
        const json = native.runTaskInput(host.handle, this.task.index, host.durable ? stepAttempt(this.step, attempt) : undefined)
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
    if (attempt.reserved >= 0) this.#settleCharge(attempt, status)
    if (this.#finished || !this.host.live()) return // late: discarded
    const index = attempt.index ?? -1
    if (status === 'succeeded') return this.#unitDone(index, attempt.attempt, status, value, attempt.startedAt)
    this.#failed(attempt.attempt, index, status, toFailure(value), attempt.startedAt)
  }

  /** An attempt failed: retried under the task's policy, else the task (or item) fails. */
  #failed(attempt: number, index: number, status: 'failed' | 'timed_out', failure: Failure, startedAt = 0): void {
    if (this.#finished || !this.host.live()) return
    const retry = this.task.retry
    if (retry && attempt <= retry.count && !this.#stopped && this.host.accepting() && this.#retryAllowed(status, failure)) {
      const delayMs = retryDelay(retry, attempt)
      const e = event(this.host, 'task.retrying', this.task.name, attempt, index) as RunEvent & { error: Failure; delayMs: number }
      e.error = failure
      e.delayMs = delayMs
      this.host.emit(e)
      const host = this.host
      if (host.durable) {
        host.crossings++
        native.runRetrying(host.handle, this.task.index, stepAttempt(this.step, attempt), index, JSON.stringify(failure), startedAt || null)
      }
      const timer = setTimeout(() => {
        host.untrack(timer)
        if (this.#finished || !this.host.live()) return
        if (!this.host.accepting()) return this.#unitDone(index, attempt, status, failure, startedAt)
        this.#retry(attempt + 1, index)
      }, delayMs)
      host.track(timer)
      return
    }
    this.#unitDone(index, attempt, status, failure, startedAt)
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
    if (this.host.durable) {
      let json: string | null = null
      try {
        json = data === undefined ? null : encode(data, 'log data')
      } catch {
        json = JSON.stringify(String(data)) // data that cannot be workflow data is kept as text
      }
      this.host.crossings++
      native.runLog(this.host.handle, this.task.index, attempt.attempt, attempt.index ?? -1, e.message, json)
    }
  }

  /** The task (index < 0) or one item ended, after its retries. */
  #unitDone(index: number, attempt: number, status: AttemptStatus, value: unknown, startedAt = 0): void {
    if (index < 0) {
      return this.#finish(status === 'succeeded'
        ? { status, result: value, attempt }
        : { status, error: value as Failure, attempt })
    }
    this.#inFlight--
    if (this.host.durable && !this.#journalItem(index, attempt, status, value, startedAt)) return
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

  /**
   * Journals an item's end (durable runs); a full store queue pauses the
   * items until it drains. False when the item's result cannot be workflow
   * data: the task failed.
   */
  #journalItem(index: number, attempt: number, status: AttemptStatus, value: unknown, startedAt: number): boolean {
    const host = this.host
    let payload: string
    try {
      payload = status === 'succeeded' ? encode(value, `result of item ${index} of task '${this.task.name}'`) : JSON.stringify(value)
    } catch (error) {
      if (this.#itemCharge) {
        // the item ran: billed as in memory, where the same result fails the task later
        const [reserved, charged] = this.#itemCharge
        native.meterSettle(host.handle, this.task.index * 68719476736 + this.step * 65536 + attempt, index, reserved, charged)
        this.#itemCharge = undefined
      }
      this.#finish({ status: 'failed', error: toFailure(error), attempt })
      return false
    }
    host.crossings++
    const charge = this.#itemCharge
    this.#itemCharge = undefined
    const seq = charge
      ? native.runItemDone(host.handle, this.task.index, stepAttempt(this.step, attempt), index, STATUS_CODE[status], payload, startedAt || Date.now(), charge[0], charge[1])
      : native.runItemDone(host.handle, this.task.index, stepAttempt(this.step, attempt), index, STATUS_CODE[status], payload, startedAt || Date.now())
    if (seq < 0 && !this.#throttled) {
      this.#throttled = true
      host.waitForStore(-seq, () => {
        this.#throttled = false
        if (!this.#finished && host.live()) this.#pump()
      })
    }
    return true
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
