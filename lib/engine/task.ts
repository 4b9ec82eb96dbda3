/**
 * One activation of an action task: its attempts with retries, or, for a
 * with-items task, its items (see `items.ts`). The first attempt's input
 * comes with the answer that scheduled the task; a retry's is rendered
 * again by the core, which also journals it and reserves its static cost.
 * Callbacks, not async functions: each `await` costs a promise and a
 * microtask, and this is the per-task path.
 */
import { native } from '../binding'
import { fromNative, fromNativeData } from '../errors'
import type { TaskDefinition } from '../workflow/model'
import { Attempt, type Action, type AttemptOwner, type AttemptStatus } from './attempt'
import type { RunEvent } from './events'
import { toFailure, type Failure } from './failure'
import { Items, type ItemsOwner } from './items'
import { estimate } from './metering'
import { InputKind, STATUS_CODE, reservedBy, unit } from './protocol'
import { keyedRandom, retryDelay, retryLeft } from './retry'
import { setLongTimeout } from './timers'
import { encode, MAX_DEPTH, validated } from '../values'
import { interruptedFailure, type Activation, type ResumedActivation, type TaskHost, type TaskOutcome } from './task-host'

function event(host: TaskHost, type: RunEvent['type'], task: string, attempt: number, index: number): RunEvent {
  const e = { type, runId: host.id, time: Date.now(), task, attempt } as RunEvent & { index?: number }
  if (index >= 0) e.index = index
  return e
}

/** A native error answered as data, as a failure. */
export function dataFailure(data: unknown): Failure {
  return toFailure(fromNativeData(data as Parameters<typeof fromNativeData>[0]))
}

export class TaskRun implements Activation, AttemptOwner, ItemsOwner {
  readonly task: TaskDefinition
  readonly host: TaskHost
  /** The task's activation number in the run (the core numbers them). */
  readonly step: number
  readonly #action: Action
  #finished = false
  /**
   * Inside `start`, which runs in the run's activation loop: an activation
   * that ends here (an empty list, items a resume found all done, an input
   * that failed to render) ends a microtask later, once the run has counted
   * its siblings, so that it is not taken for the run's last.
   */
  #starting = false
  /** Metered: the last attempt's reservation and reported charge, settled by the task's completion. */
  charge: [number, number] | undefined
  #items: Items | undefined
  /** An interrupted attempt runs again as itself (its action finds what it started: a sub-workflow's child). */
  readonly #reattach: boolean

  constructor(task: TaskDefinition, host: TaskHost, action: Action, step: number, reattach = false) {
    this.task = task
    this.host = host
    this.#action = action
    this.step = step
    this.#reattach = reattach
  }

  get index(): number {
    return this.task.index
  }

  get name(): string {
    return this.task.name
  }

  /**
   * `kind` and `value`: the first attempt's input, as the core answered it.
   * A resumed activation goes on from what its journal holds: an
   * interrupted attempt counts as failed (retry policy), a retry that was
   * waiting starts once what is left of a durable delay has passed (at
   * once for a short one), items that ended keep their result.
   */
  start(kind: InputKind, value: unknown, resumed?: ResumedActivation): void {
    this.#starting = true
    try {
      this.#start(kind, value, resumed)
    } finally {
      this.#starting = false
    }
  }

  #start(kind: InputKind, value: unknown, resumed: ResumedActivation | undefined): void {
    const first = resumed && kind !== InputKind.Items ? Math.max(resumed.attempt, 1) : 1
    this.host.emit({ type: 'task.started', runId: this.host.id, time: Date.now(), task: this.task.name, attempt: first })
    if (kind !== InputKind.Items) {
      if (!resumed || resumed.attempt === 0) return this.begin(1, -1, kind, value)
      if (resumed.interrupted && this.#reattach) return this.begin(resumed.attempt, -1, kind, value)
      if (resumed.interrupted) {
        const failure = interruptedFailure(resumed.attempt)
        return queueMicrotask(() => this.#failed(resumed.attempt, -1, 'failed', failure))
      }
      return this.retryDue(resumed.attempt, -1, resumed.failed ?? null)
    }
    this.#startItems(resumed)
  }

  #startItems(resumed: ResumedActivation | undefined): void {
    const host = this.host
    let answer: [number, unknown[]]
    try {
      host.crossings++
      answer = JSON.parse(native.runBeginItems(host.handle, this.task.index)) as [number, unknown[]]
    } catch (error) {
      const failure = toFailure(fromNative(error))
      return this.finish({ status: 'failed', error: failure, attempt: 1 })
    }
    this.#items = new Items(this, answer[0], answer[1], resumed?.items)
    host.emit({ type: 'task.items', runId: host.id, time: Date.now(), task: this.task.name, attempt: 1, count: answer[1].length })
    this.#items.pump()
  }

  /**
   * What the task's handlers see: the run's signal, or for a with-items
   * task its own (an item that fails the task stops its siblings).
   */
  get signal(): AbortSignal {
    return this.#items ? this.#items.signal(this.#items.stopped || this.#finished) : this.host.abortSignal
  }

  /**
   * Starts an attempt with an input the core answered with. A metered
   * run's core reserved a static cost with the input (rendered or none);
   * a cost function's estimate is reserved here.
   */
  begin(attempt: number, index: number, kind: InputKind, value: unknown): void {
    const host = this.host
    if (kind === InputKind.Error) {
      // later, not nested: a list whose every input fails must not recurse per item
      const failure = dataFailure(value)
      queueMicrotask(() => {
        if (!this.#finished && host.live()) this.#unitDone(index, attempt, 'failed', failure)
      })
      return
    }
    const meter = host.meter
    if (kind === InputKind.Uncovered) return host.insufficientBalance(this.task.name, attempt, index, meter!.costs[this.task.index] as number, value as number)
    if (kind === InputKind.Pending) {
      // its static cost is reserved, waiting for a lease: it runs with the input it came with once covered
      const [ticket, innerKind, innerValue] = value as [number, InputKind, unknown]
      return this.#afterCredit(ticket, attempt, index, meter!.costs[this.task.index] as number, () => this.begin(attempt, index, innerKind, innerValue))
    }
    const input = kind === InputKind.Rendered ? value : undefined
    // items: the core renders their inputs without reserving
    let reserved = index < 0 ? reservedBy(meter, this.task.index, kind) : -1
    if (meter && reserved < 0) {
      const amount = estimate(meter, this.task.index, this.task.name, input, index)
      if (typeof amount !== 'number') {
        queueMicrotask(() => this.#failed(attempt, index, 'failed', amount))
        return
      }
      host.crossings++
      const reservation = native.meterReserve(host.handle, amount)
      if (reservation < 0) return host.insufficientBalance(this.task.name, attempt, index, amount)
      if (reservation > 0) {
        // reserved, waiting for a lease (0: covered at once)
        return this.#afterCredit(reservation, attempt, index, amount, () => this.#run(attempt, index, input, amount))
      }
      reserved = amount
    }
    this.#run(attempt, index, input, reserved)
  }

  /** Once the waiting reservation `ticket` (of `cost`) is covered, `go`; refused: the attempt's insufficient balance. */
  #afterCredit(ticket: number, attempt: number, index: number, cost: number, go: () => void): void {
    this.host.waitForCredit(ticket, (balance) => (balance === undefined ? go() : this.host.insufficientBalance(this.task.name, attempt, index, cost, balance)))
  }

  /** Runs an attempt whose cost (`reserved`, -1: not metered) is reserved. */
  #run(attempt: number, index: number, input: unknown, reserved: number): void {
    const run = new Attempt(this, attempt, index, index < 0 ? undefined : this.#items!.list[index], this.task.timeoutMs)
    run.reserved = reserved
    run.run(this.#action, input)
  }

  /**
   * Ends an attempt's reservation; the core decides what is charged. A late
   * attempt (its task over) gives it back; once the run has ended, its
   * reservations went back with it.
   */
  #settleCharge(attempt: Attempt, status: AttemptStatus): void {
    const host = this.host
    const reserved = attempt.reserved
    attempt.reserved = -1
    if (!host.live()) return
    const reported = attempt.charged ?? -1
    if (!this.#finished && status === 'succeeded') {
      // a task's completion settles it, an item's journal write (durable runs): no call of its own
      if (attempt.index === undefined) {
        this.charge = [reserved, reported]
        return
      }
      if (host.durable) {
        this.#items!.itemCharge = [reserved, reported]
        return
      }
    }
    host.crossings++
    if (this.#finished) return native.meterRelease(host.handle, reserved)
    native.meterSettle(host.handle, unit(this.task.index, this.step, attempt.attempt), attempt.index ?? -1, STATUS_CODE[status], reserved, reported)
  }

  /** A resumed retry that was due after `attempt` failed (at `failedAt`): a durable delay counts from then, a short one is due now. */
  retryDue(attempt: number, index: number, failedAt: number | null): void {
    const left = this.task.retry ? retryLeft(this.#delay(attempt, index), failedAt) : 0
    if (left === 0) return this.retry(attempt + 1, index)
    this.#until(Date.now() + left, () => this.retry(attempt + 1, index))
  }

  /**
   * `then` once the clock reaches `due`, not before: a timer can fire a
   * few ms early by `Date.now()` (it counts from the event loop's cached
   * time, which lags after a long synchronous call such as a resume).
   */
  #until(due: number, then: () => void): void {
    const left = due - Date.now()
    if (left <= 0) return then()
    this.#later(Math.ceil(left), () => this.#until(due, then))
  }

  /** A retry: the input is rendered again (the context may have changed). */
  retry(attempt: number, index: number): void {
    const host = this.host
    let kind: InputKind
    let value: unknown
    try {
      if (index < 0) {
        host.crossings++
        ;[kind, value] = JSON.parse(native.runAttemptInput(host.handle, unit(this.task.index, this.step, attempt))) as [InputKind, unknown]
      } else [kind, value] = this.#items!.input(index)
    } catch (error) {
      return this.#unitDone(index, attempt, 'failed', toFailure(fromNative(error)))
    }
    this.begin(attempt, index, kind, value)
  }

  /**
   * An attempt ended (once per attempt; see `Attempt`). A result that
   * cannot be workflow data fails the attempt here, before it counts as
   * succeeded: it is charged, retried and handled as a failure, and the
   * core never sees it.
   */
  settled(attempt: Attempt, status: AttemptStatus, value: unknown): void {
    const index = attempt.index ?? -1
    let payload: string | undefined
    if (status === 'succeeded' && !this.#finished && this.host.live()) {
      try {
        // an item's result sits one level down, in the task's list (checked
        // without writing it out where that is certain: the list is written later)
        payload = index < 0 ? (attempt.payload ?? encode(value, `result of task '${this.task.name}'`)) : validated(value, this.#items!.what, MAX_DEPTH - 1, index)
      } catch (error) {
        status = 'failed'
        value = error
      }
    }
    if (attempt.reserved >= 0) this.#settleCharge(attempt, status)
    if (this.#finished || !this.host.live()) return // late: discarded
    if (status === 'succeeded') {
      if (index >= 0) return this.#items!.done(index, attempt.attempt, status, value, attempt.startedAt, payload)
      return this.finish({ status, result: value, attempt: attempt.attempt, payload })
    }
    this.#failed(attempt.attempt, index, status, toFailure(value), attempt.startedAt)
  }

  /** An attempt failed: retried under the task's policy, else the task (or item) fails. */
  #failed(attempt: number, index: number, status: 'failed' | 'timed_out', failure: Failure, startedAt = 0): void {
    if (this.#finished || !this.host.live()) return
    const retry = this.task.retry
    if (retry && attempt <= retry.count && !this.#items?.stopped && this.host.accepting() && this.#retryAllowed(attempt, index, status, failure, startedAt)) {
      const delayMs = this.#delay(attempt, index)
      const e = event(this.host, 'task.retrying', this.task.name, attempt, index) as RunEvent & { error: Failure; delayMs: number }
      e.error = failure
      e.delayMs = delayMs
      this.host.emit(e)
      this.#later(delayMs, () => this.retry(attempt + 1, index), () => this.#unitDone(index, attempt, status, failure, startedAt))
      return
    }
    this.#unitDone(index, attempt, status, failure, startedAt)
  }

  /** The delay after `attempt` failed; a durable run's jitter is keyed, so that a resume finds the same (see `retry.ts`). */
  #delay(attempt: number, index: number): number {
    const random = this.host.durable && this.task.retry!.jitter > 0 ? keyedRandom(`${this.host.id}|${this.task.index}|${this.step}|${index}|${attempt}`) : undefined
    return retryDelay(this.task.retry!, attempt, random)
  }

  /** `then` after `ms`, unless the task or the run ended first; `stopping`, should the run stop accepting work meanwhile. */
  #later(ms: number, then: () => void, stopping = (): void => this.finish({ status: 'cancelled', attempt: 0 })): void {
    const host = this.host
    const timer = setLongTimeout(() => {
      host.untrack(timer)
      if (this.#finished || !host.live()) return
      if (!host.accepting()) return stopping()
      then()
    }, ms)
    host.track(timer)
  }

  /** The core's word on a retry (`retry.when`; a durable run journals it `retrying`): one call, only when needed. */
  #retryAllowed(attempt: number, index: number, status: AttemptStatus, failure: Failure, startedAt: number): boolean {
    const host = this.host
    if (!this.task.retry?.when && !host.durable) return true
    try {
      host.crossings++
      return native.runRetry(host.handle, unit(this.task.index, this.step, attempt), index, STATUS_CODE[status], JSON.stringify(failure), startedAt || null, this.#items?.batch)
    } catch {
      return false
    }
  }

  log(attempt: Attempt, message: string, data?: unknown): void {
    if (this.#finished || !this.host.live()) return
    const e = event(this.host, 'task.log', this.task.name, attempt.attempt, attempt.index ?? -1) as RunEvent & { message: string; data?: unknown }
    // lone surrogates become U+FFFD here, so that the event and the stored row say the same
    e.message = (String(message) as string & { toWellFormed(): string }).toWellFormed()
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
    if (index >= 0) return this.#items!.done(index, attempt, status, value, startedAt)
    this.finish(status === 'succeeded' ? { status, result: value, attempt } : { status, error: value as Failure, attempt })
  }

  finish(outcome: TaskOutcome): void {
    if (this.#finished) return
    this.#finished = true
    if (this.#starting) {
      queueMicrotask(() => this.#ended(outcome))
      return
    }
    this.#ended(outcome)
  }

  #ended(outcome: TaskOutcome): void {
    if (this.#items) {
      this.#items.end()
      this.host.crossings++
      native.runEndItems(this.host.handle, this.#items.batch)
    }
    this.host.taskDone(this, outcome)
  }
}
