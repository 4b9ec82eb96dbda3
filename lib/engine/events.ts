/**
 * A run's events: kept in order for the whole run (so `events()` called
 * late replays from the start), handed to each consumer as it asks. The
 * run never waits for a consumer, and a slow consumer loses nothing: it
 * reads the run's history at its own pace. Memory is bounded by the run
 * (about one event per task, attempt and item), and freed with the run.
 */
import type { Failure } from './failure'

interface Base {
  runId: string
  /** Milliseconds since the epoch. */
  time: number
}

interface TaskBase extends Base {
  task: string
  attempt: number
  /** With-items only: the item's index. */
  index?: number
}

export type RunEvent =
  | (Base & { type: 'run.started'; workflow: string; input: unknown })
  /**
   * A run interrupted by a crash goes on (`engine.resume`): `pending`
   * activations go on; `message` says how (what starts again, which
   * attempts were interrupted and whether they are retried, which retries
   * were due), as the run's journal has it.
   */
  | (Base & { type: 'run.resumed'; workflow: string; pending: string[]; message: string })
  | (Base & { type: 'run.succeeded'; output: unknown })
  | (Base & { type: 'run.failed'; error: Failure; task?: string })
  /**
   * The run had nothing left to run while `join` still waited (`arrived`
   * of `needed`) for `waitingFor`: it can never fire, so the run fails
   * with a `JoinError` (`run.failed` follows).
   */
  | (Base & { type: 'join.blocked'; join: string; waitingFor: string[]; arrived: number; needed: number })
  | (Base & { type: 'run.cancelled' })
  | (Base & { type: 'run.timed_out' })
  | (TaskBase & { type: 'task.started' })
  | (TaskBase & { type: 'task.succeeded'; result: unknown })
  | (TaskBase & { type: 'task.failed'; error: Failure })
  | (TaskBase & { type: 'task.timed_out' })
  | (TaskBase & { type: 'task.retrying'; error: Failure; delayMs: number })
  /** A with-items task's list is rendered: `count` items will run. */
  | (TaskBase & { type: 'task.items'; count: number })
  | (TaskBase & { type: 'item.started'; index: number })
  | (TaskBase & { type: 'item.completed'; index: number; status: 'succeeded' | 'failed' | 'timed_out' })
  | (TaskBase & { type: 'task.log'; message: string; data?: unknown })
  /** A metered attempt did not run: its account could not cover its estimated cost. */
  | (TaskBase & { type: 'billing.insufficient_balance'; account: string; needed: number; balance: number })

export type RunEventType = RunEvent['type']

type Waiter = () => void

export class EventLog {
  readonly #events: RunEvent[] = []
  #closed = false
  #waiters: Waiter[] = []
  readonly #listeners: Array<(event: RunEvent) => void>

  constructor(listeners: Array<(event: RunEvent) => void>) {
    this.#listeners = listeners
  }

  push(event: RunEvent): void {
    this.#events.push(event)
    if (this.#listeners.length > 0) this.#notify(event)
    this.#wake()
  }

  #notify(event: RunEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event)
      } catch {
        // a listener's failure is its own; the run goes on
      }
    }
  }

  /** Every event so far (the log's own array: read, do not change). */
  all(): readonly RunEvent[] {
    return this.#events
  }

  close(): void {
    this.#closed = true
    this.#wake()
  }

  #wake(): void {
    if (this.#waiters.length === 0) return // the usual case: no array churn per event
    const waiters = this.#waiters
    this.#waiters = []
    for (const wake of waiters) wake()
  }

  /** Every event from the start of the run, then each new one until the run ends. */
  async *iterate(): AsyncGenerator<RunEvent, void, undefined> {
    let next = 0
    for (;;) {
      while (next < this.#events.length) yield this.#events[next++]
      if (this.#closed) return
      await new Promise<void>((resolve) => this.#waiters.push(resolve))
    }
  }
}

/** An event before the run stamps it with its id and time. */
export type NewEvent = RunEvent extends infer E ? (E extends RunEvent ? Omit<E, 'runId' | 'time'> : never) : never
