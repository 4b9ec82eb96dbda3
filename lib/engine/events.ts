/**
 * A run's events: kept in order for the whole run (so `events()` called
 * late replays from the start), handed to each consumer as it asks. The
 * run never waits for a consumer, and a slow consumer loses nothing: it
 * reads the run's history at its own pace. Memory is bounded by the run
 * (about one event per task, attempt and item), and freed with the run;
 * items' events are kept as numbers (see item-events.ts).
 */
import type { Failure } from './failure'
import { ItemEvents, type ItemStatus } from './item-events'

/** What every event has. */
export interface EventBase {
  runId: string
  /** Milliseconds since the epoch. */
  time: number
}

/** What every event of a task, an attempt or an item has. */
export interface TaskEventBase extends EventBase {
  task: string
  attempt: number
  /** With-items only: the item's index. */
  index?: number
}

/** A sub-workflow's child run says its parent (`parentId`) and the parent's task that started it. */
export interface RunStartedEvent extends EventBase { type: 'run.started'; workflow: string; input: unknown; parentId?: string; parentTask?: string }
/**
 * A run interrupted by a crash goes on (`engine.resume`): `pending`
 * activations go on; `message` says how (what starts again, which attempts
 * were interrupted and whether they are retried, which retries were due),
 * as the run's journal has it.
 */
export interface RunResumedEvent extends EventBase { type: 'run.resumed'; workflow: string; pending: string[]; message: string }
export interface RunSucceededEvent extends EventBase { type: 'run.succeeded'; output: unknown }
/** `task`: the task whose failure failed the run, when one did (a run-level failure has none). */
export interface RunFailedEvent extends EventBase { type: 'run.failed'; error: Failure; task?: string }
/**
 * The run had nothing left to run while `join` still waited (`arrived` of
 * `needed`) for `waitingFor`: it can never fire, so the run fails with a
 * `JoinError` (`run.failed` follows).
 */
export interface JoinBlockedEvent extends EventBase { type: 'join.blocked'; join: string; waitingFor: string[]; arrived: number; needed: number }
export interface RunCancelledEvent extends EventBase { type: 'run.cancelled' }
export interface RunTimedOutEvent extends EventBase { type: 'run.timed_out' }
/**
 * A worker no longer holds the run (`reason` `lost`: another worker took it
 * over; `released`: the worker stopped without draining and gave it back):
 * its handlers here were aborted and nothing more is written for it here;
 * the run goes on elsewhere.
 */
export interface RunLeaseLostEvent extends EventBase { type: 'run.lease_lost'; reason: 'lost' | 'released' }
export interface TaskStartedEvent extends TaskEventBase { type: 'task.started' }
export interface TaskSucceededEvent extends TaskEventBase { type: 'task.succeeded'; result: unknown }
export interface TaskFailedEvent extends TaskEventBase { type: 'task.failed'; error: Failure }
export interface TaskTimedOutEvent extends TaskEventBase { type: 'task.timed_out' }
export interface TaskRetryingEvent extends TaskEventBase { type: 'task.retrying'; error: Failure; delayMs: number }
/** A wait (or an item of one) waits for `signal`; a sleep until `until` (ISO time). */
export interface TaskWaitingEvent extends TaskEventBase { type: 'task.waiting'; signal?: string; until?: string }
/** A signal came for the run (`run.signal`, `engine.signal`, or kept while no process held the run and delivered at its resume). */
export interface SignalReceivedEvent extends EventBase { type: 'signal.received'; name: string; payload: unknown }
/** A with-items task's list is rendered: `count` items will run. */
export interface TaskItemsEvent extends TaskEventBase { type: 'task.items'; count: number }
export interface ItemStartedEvent extends TaskEventBase { type: 'item.started'; index: number }
export interface ItemCompletedEvent extends TaskEventBase { type: 'item.completed'; index: number; status: 'succeeded' | 'failed' | 'timed_out' }
export interface TaskLogEvent extends TaskEventBase { type: 'task.log'; message: string; data?: unknown }
/** A cached result was used instead of running the action (the attempt charges nothing; `key`: the rendered key, as JSON). */
export interface TaskCachedEvent extends TaskEventBase { type: 'task.cached'; key: string }
/**
 * A `workflow` task started (or, resumed, found) its child run `childId`:
 * the child's own events follow in this run's `events()` with the child's
 * `runId`; `engine.getRun(childId)` reads its history.
 */
export interface TaskChildEvent extends TaskEventBase { type: 'task.child'; childId: string; workflow: string }
/** A metered attempt did not run: its account could not cover its estimated cost. */
export interface InsufficientBalanceEvent extends TaskEventBase { type: 'billing.insufficient_balance'; account: string; needed: number; balance: number }

/** The events of a task, its attempts and items: each has `task` and `attempt` (and `index` for an item). */
export type TaskEvent =
  | TaskStartedEvent
  | TaskSucceededEvent
  | TaskFailedEvent
  | TaskTimedOutEvent
  | TaskRetryingEvent
  | TaskWaitingEvent
  | TaskItemsEvent
  | ItemStartedEvent
  | ItemCompletedEvent
  | TaskLogEvent
  | TaskCachedEvent
  | TaskChildEvent
  | InsufficientBalanceEvent

/**
 * A run's event, discriminated by `type`: `switch (event.type)` (or
 * `event.type === 'task.failed'`) narrows it to exactly that event's fields.
 *
 * @example
 * for await (const event of run.events()) {
 *   if (event.type === 'task.failed') console.log(event.task, event.attempt, event.index, event.error.message)
 * }
 */
export type RunEvent =
  | RunStartedEvent
  | RunLeaseLostEvent
  | RunResumedEvent
  | RunSucceededEvent
  | RunFailedEvent
  | RunCancelledEvent
  | RunTimedOutEvent
  | JoinBlockedEvent
  | SignalReceivedEvent
  | TaskEvent

export type RunEventType = RunEvent['type']

/**
 * The event is a task's, an attempt's or an item's: it has `task` and
 * `attempt` (`run.failed` names its task but is the run's).
 *
 * @example
 * for await (const event of run.events()) if (isTaskEvent(event)) console.log(event.task, event.attempt, event.index)
 */
export function isTaskEvent(event: RunEvent): event is TaskEvent {
  return 'attempt' in event
}

type Waiter = () => void

export class EventLog {
  /**
   * Events, in order; a number `n` stands for the item events of `#items`
   * from the previous number's up to row `n` (a run of them is one entry:
   * the array grows with the run's other events only).
   */
  readonly #events: Array<RunEvent | number> = []
  /** Items' events (made on first use). */
  #items: ItemEvents | undefined
  #closed = false
  #waiters: Waiter[] = []
  readonly #listeners: Array<(event: RunEvent) => void>
  /** A child run's log: its parent's, which gets every event too (`record`). */
  readonly #parent: EventLog | undefined

  constructor(listeners: Array<(event: RunEvent) => void>, parent?: EventLog) {
    this.#listeners = listeners
    this.#parent = parent
  }

  push(event: RunEvent): void {
    this.#events.push(event)
    if (this.#listeners.length > 0) this.#notify(event)
    this.#wake()
    this.#parent?.record(event)
  }

  /**
   * An item's `item.started` (`status` undefined) or `item.completed`,
   * stamped now: kept as numbers, made an object only for listeners.
   */
  pushItem(runId: string, task: string, attempt: number, index: number, status?: ItemStatus): void {
    const time = Date.now()
    const row = this.#addItem(runId, time, task, attempt, index, status)
    if (this.#listeners.length > 0) this.#notify(this.#items!.at(row))
    this.#wake()
    this.#parent?.recordItem(runId, time, task, attempt, index, status)
  }

  /** A descendant's event: kept and passed up, not told to listeners (its own log told them). */
  record(event: RunEvent): void {
    if (this.#closed) return
    this.#events.push(event)
    this.#wake()
    this.#parent?.record(event)
  }

  /** A descendant's item event (see `pushItem`). */
  recordItem(runId: string, time: number, task: string, attempt: number, index: number, status: ItemStatus | undefined): void {
    if (this.#closed) return
    this.#addItem(runId, time, task, attempt, index, status)
    this.#wake()
    this.#parent?.recordItem(runId, time, task, attempt, index, status)
  }

  #addItem(runId: string, time: number, task: string, attempt: number, index: number, status: ItemStatus | undefined): number {
    const row = (this.#items ??= new ItemEvents()).add(runId, time, task, attempt, index, status)
    const last = this.#events.length - 1
    if (last >= 0 && typeof this.#events[last] === 'number') this.#events[last] = row + 1
    else this.#events.push(row + 1)
    return row
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

  /** Every event so far (the log's own array when it holds no item's: read, do not change). */
  all(): readonly RunEvent[] {
    const items = this.#items
    if (items === undefined) return this.#events as RunEvent[]
    const all: RunEvent[] = []
    let row = 0
    for (const e of this.#events) {
      if (typeof e !== 'number') all.push(e)
      else while (row < e) all.push(items.at(row++))
    }
    return all
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
    let row = 0
    for (;;) {
      // each step reads the log afresh: it may have grown while the consumer held an event
      while (next < this.#events.length) {
        const e = this.#events[next]!
        if (typeof e !== 'number') {
          next++
          yield e
        } else if (row < e) yield this.#items!.at(row++)
        else if (next < this.#events.length - 1) next++
        else break // the last run of item events, which may go on
      }
      if (this.#closed) return
      await new Promise<void>((resolve) => this.#waiters.push(resolve))
    }
  }
}

/** An event before the run stamps it with its id and time. */
export type NewEvent = RunEvent extends infer E ? (E extends RunEvent ? Omit<E, 'runId' | 'time'> : never) : never
