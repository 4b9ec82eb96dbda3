/**
 * What passes between a run and its tasks: the host interface a task
 * sees, a task's outcome, and what a resume knows of an activation. Types
 * only (and one failure shape): tasks and attempts import it, it imports
 * neither.
 */
import type { Failure } from './failure'
import type { RunEvent } from './events'
import type { RunMeter } from './metering'
import type { Deadline } from './deadlines'
import type { Mailbox } from './mailbox'

export type TaskOutcome =
  /** `payload`: the result as JSON text, when the attempt encoded it already. */
  | { status: 'succeeded'; result: unknown; attempt: number; payload?: string }
  | { status: 'failed' | 'timed_out'; error: Failure; attempt: number }
  | { status: 'cancelled'; attempt: number }

/** An activation as its run sees it when it ends. */
export interface Activation {
  readonly index: number
  readonly step: number
  readonly name: string
  /** Metered: the last attempt's reservation and reported charge (-1: none), settled by the completion. */
  charge: [number, number] | undefined
}

/** What a task needs from its run. */
export interface TaskHost {
  readonly id: string
  /** The run's handle in the native registry. */
  readonly handle: number
  /** Calls into native code, counted for `run.stats()`. */
  crossings: number
  readonly abortSignal: AbortSignal
  /** A timer to clear when the run ends. */
  track(timer: ReturnType<typeof setTimeout>): void
  untrack(timer: ReturnType<typeof setTimeout>): void
  /** The run still accepts new work (not ended, not stopping). */
  accepting(): boolean
  /** The run has not ended. */
  live(): boolean
  emit(event: RunEvent): void
  /** An item's `item.started` (`status` undefined) or `item.completed` event (kept compactly: see item-events.ts). */
  emitItem(task: string, attempt: number, index: number, status?: 'succeeded' | 'failed' | 'timed_out'): void
  taskDone(activation: Activation, outcome: TaskOutcome): void
  /** The run journals its executions to a store. */
  readonly durable: boolean
  /** `sync` durability: a completion is acknowledged (its event, what follows) only once committed. */
  readonly sync: boolean
  /** Calls `then` once the store has committed every write up to `seq` (backpressure). */
  waitForStore(seq: number, then: () => void): void
  /** Metered runs: the run's meter. */
  readonly meter: RunMeter | undefined
  /** The run's signals (made on first use). */
  readonly mailbox: Mailbox
  /** A wait or a sleep parks (its deadline is dropped if the run ends first) / ends. */
  park(parked: Deadline): void
  unpark(parked: Deadline): void
  /** A reservation waits for a lease: `then()` once reserved, `then(balance)` once refused; not called if the run ends first. */
  waitForCredit(ticket: number, then: (balance?: number) => void): void
  /** An attempt's account could not cover it (`balance`: as the core saw it): the run fails. */
  insufficientBalance(task: string, attempt: number, index: number, needed: number, balance?: number): void
}

/** What the journal holds of an activation that a resume starts again. */
export interface ResumedActivation {
  /** The last attempt journaled for the task itself (0: none). */
  attempt: number
  /** That attempt was running when the process died. */
  interrupted: boolean
  /** When its first attempt started (epoch ms, journaled), if known: a wait's or a sleep's due time counts from it. */
  began?: number | null
  /** When that last attempt failed, if it is `retrying` (epoch ms, journaled): a durable retry delay counts from it. */
  failed?: number | null
  /**
   * Item executions journaled, `[index, attempt, status, payload, failed]`
   * with status a `StatusCode` and `failed` when a `retrying` attempt
   * failed (epoch ms or null: its durable retry delay counts from it;
   * with-items only).
   */
  items: Array<[number, number, number, unknown, number | null]> | null
}

/** An attempt that was running when its process died (code `ARCFLOW_INTERRUPTED`): it follows the task's retry policy. */
export function interruptedFailure(attempt: number): Failure {
  return {
    name: 'InterruptedError',
    code: 'ARCFLOW_INTERRUPTED',
    message: `attempt ${attempt} was interrupted (its process stopped before it ended); it is retried only under the task's retry policy`,
  }
}
