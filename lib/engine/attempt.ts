/**
 * One attempt of an action. The attempt object is also the context the
 * handler receives. Its signal is the run's (or, for a with-items task,
 * the task's), or its own when the task has a timeout: the deadline aborts
 * it at once (a timer, no polling) and the attempt ends `timed_out`; a
 * handler that ignores its signal has its late result discarded. No
 * promise race and no closures beyond the two callbacks of one `then`:
 * this is the hot path.
 */
import { credits } from './metering'
import { LinkedSignal } from './signals'
import type { TaskHost } from './task-host'
import { setLongTimeout } from './timers'

export interface ActionContext {
  /** Aborted on timeout or cancellation: pass it to fetch, timers, child processes. */
  readonly signal: AbortSignal
  readonly runId: string
  readonly task: string
  /** 1 for the first attempt. */
  readonly attempt: number
  /** With-items only: the item (undefined otherwise). */
  readonly item: unknown
  /** With-items only: the item's index (undefined otherwise). */
  readonly index: number | undefined
  /** Emits a `task.log` event. */
  log(message: string, data?: unknown): void
  /**
   * Metered runs: the actual cost of this attempt in credits, charged when
   * it ends instead of the estimate (the difference is charged or refunded).
   */
  charge(credits: number): void
}

/**
 * An action: a (usually async) function of the task's rendered input. The
 * input is `unknown` unless you say what it is: the workflow's template
 * renders it, nothing checks it against `I`.
 *
 * @example
 * const greet: Action<{ name: string }, string> = async ({ name }, ctx) => `hello ${name} (attempt ${ctx.attempt})`
 */
export type Action<I = unknown, O = unknown> = (input: I, ctx: ActionContext) => O | PromiseLike<O>

/**
 * @internal An action that ends its attempt itself (`attempt.report`; its
 * `ctx` is the attempt) instead of answering a promise: the engine's own
 * workflow tasks, whose child's end reports at once (no promise, no tick).
 * A throw still fails the attempt.
 */
export type ReportingAction = ((input: unknown, ctx: ActionContext) => void) & { readonly reports: true }

/** @internal Marks `fn` as a {@link ReportingAction}. */
export function reporting(fn: (input: unknown, ctx: ActionContext) => void): ReportingAction {
  return Object.assign(fn, { reports: true as const })
}

export type AttemptStatus = 'succeeded' | 'failed' | 'timed_out'

/** What an attempt reports to: its task's activation. */
export interface AttemptOwner {
  readonly host: TaskHost
  readonly name: string
  /** The task's activation number in the run. */
  readonly step: number
  /** The signal the attempt's own derives from (the task's or the run's). */
  readonly signal: AbortSignal
  settled(attempt: Attempt, status: AttemptStatus, value: unknown): void
  log(attempt: Attempt, message: string, data?: unknown): void
}

export class AttemptTimeout extends Error {
  constructor(ms: number) {
    super(`attempt timed out after ${ms} ms`)
    this.name = 'TimeoutError'
  }
}

export class Attempt implements ActionContext {
  readonly runId: string
  readonly task: string
  readonly attempt: number
  readonly item: unknown
  readonly index: number | undefined
  /** @internal When it started (durable runs journal it; 0 otherwise). */
  readonly startedAt: number
  /** @internal Its task's activation number (a sub-workflow's child id has it). */
  readonly step: number
  /** @internal Credits reserved for it (metered runs; -1: none). */
  reserved = -1
  /** @internal What `charge()` reported. */
  charged: number | undefined
  /** @internal Its result's JSON text, when its action had it already (a cache hit): not encoded again. */
  payload: string | undefined
  readonly #owner: AttemptOwner
  #settled = false
  #timedOut: AttemptTimeout | undefined
  #timer: ReturnType<typeof setTimeout> | undefined
  // made on first use: most handlers never read their signal
  #own: LinkedSignal | undefined

  constructor(owner: AttemptOwner, attempt: number, index: number, item: unknown, timeoutMs: number | undefined) {
    this.#owner = owner
    this.runId = owner.host.id
    this.task = owner.name
    this.step = owner.step
    this.attempt = attempt
    this.index = index < 0 ? undefined : index
    this.item = item
    this.startedAt = owner.host.durable ? Date.now() : 0
    if (timeoutMs !== undefined) {
      this.#timer = setLongTimeout(() => this.#expire(timeoutMs), timeoutMs)
      owner.host.track(this.#timer)
    }
  }

  /**
   * Aborted on timeout or cancellation. Without a deadline, the task's (or
   * run's) signal; with one, the attempt's own, which the deadline aborts.
   */
  get signal(): AbortSignal {
    if (this.#timer === undefined && this.#timedOut === undefined) return this.#owner.signal
    // once settled, nothing listens any more: it need not follow its parent
    return (this.#own ??= new LinkedSignal()).signal(this.#owner.signal, this.#timedOut, !this.#settled)
  }

  /**
   * @internal Whether something other than the run can abort this attempt:
   * its own deadline, or (an item) its siblings' failure. A sub-workflow
   * passes its signal to the child only then: the run's own cancel and
   * timeout reach children through `run.children`.
   */
  get bounded(): boolean {
    return this.#timer !== undefined || this.index !== undefined
  }

  log(message: string, data?: unknown): void {
    this.#owner.log(this, message, data)
  }

  charge(amount: number): void {
    this.charged = credits(amount, 'ctx.charge()')
  }

  /** Calls the handler; the outcome reaches the task once, whatever happens. */
  run(action: Action, input: unknown): void {
    if ((action as Partial<ReportingAction>).reports === true) {
      try {
        action(input, this)
      } catch (error) {
        // later, not nested in the turn that began the attempt (as an async action's throw)
        queueMicrotask(() => this.#settle('failed', error))
      }
      return
    }
    let returned: unknown
    try {
      returned = action(input, this)
    } catch (error) {
      returned = Promise.reject(error)
    }
    Promise.resolve(returned).then(
      (result) => this.#settle('succeeded', result),
      (error: unknown) => this.#settle('failed', error),
    )
  }

  /** @internal A {@link ReportingAction}'s outcome; the first to come counts (a deadline may have ended the attempt). */
  report(failed: boolean, value: unknown): void {
    this.#settle(failed ? 'failed' : 'succeeded', value)
  }

  #settle(status: AttemptStatus, value: unknown): void {
    if (this.#settled) return
    this.#settled = true
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer)
      this.#owner.host.untrack(this.#timer)
    }
    this.#own?.unlink()
    this.#owner.settled(this, status, value)
  }

  #expire(ms: number): void {
    if (this.#settled) return
    const reason = new AttemptTimeout(ms)
    this.#timedOut = reason
    this.#own?.abort(reason)
    this.#settle('timed_out', reason)
  }
}
