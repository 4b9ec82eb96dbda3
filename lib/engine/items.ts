/**
 * The items of a with-items activation: at most `concurrency` in flight,
 * inputs rendered natively a window at a time, items a resume found done
 * kept, each item's end journaled (durable runs; a full store queue pauses
 * the items until it drains), and the pump yielding to the event loop
 * every so many items. Its activation (`ItemsOwner`) runs the attempts.
 */
import { native } from '../binding'
import { fromNative } from '../errors'
import type { TaskDefinition } from '../workflow/model'
import type { AttemptStatus } from './attempt'
import { toFailure, type Failure } from './failure'
import { STATUS_CODE, STATUS_NAME, StatusCode, unit, type InputKind } from './protocol'
import { LinkedSignal } from './signals'
import type { TaskHost, TaskOutcome } from './task-host'
import { encode, MAX_DEPTH } from '../values'

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

/** What the items need from their activation. */
export interface ItemsOwner {
  readonly host: TaskHost
  readonly task: TaskDefinition
  readonly step: number
  /** Starts an item's attempt with the input the core answered. */
  begin(attempt: number, index: number, kind: InputKind, value: unknown): void
  /** Starts an item's next attempt (its input rendered again). */
  retry(attempt: number, index: number): void
  /** A resumed item's retry that was due after `attempt` failed at `failedAt`: once what is left of its delay has passed. */
  retryDue(attempt: number, index: number, failedAt: number | null): void
  /** The activation ends. */
  finish(outcome: TaskOutcome): void
}

export class Items {
  readonly #owner: ItemsOwner
  readonly #batch: number
  readonly list: unknown[]
  readonly #results: unknown[]
  /** Items a resume found done: their results are kept, they do not run again. */
  readonly #resumed: Map<number, [number, number, unknown, number | null]> | undefined
  #next = 0
  #inFlight = 0
  /** Rendered inputs `[kind, value, ...]` of items from `#inputsFrom`. */
  #inputs: unknown[] = []
  #inputsFrom = 0
  /** Waiting for the store to drain, or for the event loop to turn, before starting more items. */
  #throttled = false
  /** Items started since the pump last yielded. */
  #burst = 0
  /** An item failed the task, or the task ended: the rest stop. */
  stopped = false
  /** The items' own signal: an item that fails the task stops its siblings. */
  readonly #signal = new LinkedSignal()
  /** Metered durable runs: an item's reservation and reported charge, settled with its journal write. */
  itemCharge: [number, number] | undefined
  /** The items' task, as an item's result error names it (see `encode`): made once, not per item. */
  readonly what: string

  constructor(owner: ItemsOwner, batch: number, list: unknown[], resumed: Array<[number, number, number, unknown, number | null]> | null | undefined) {
    this.#owner = owner
    this.#batch = batch
    this.list = list
    this.#results = new Array(list.length)
    this.what = `task '${owner.task.name}'`
    // in (item, attempt) order: an item's last attempt is what stays
    if (resumed) this.#resumed = new Map(resumed.map(([index, attempt, status, payload, failed]) => [index, [attempt, status, payload, failed]]))
  }

  get batch(): number {
    return this.#batch
  }

  signal(ended: boolean): AbortSignal {
    return this.#signal.signal(this.#owner.host.abortSignal, ended ? new Error(`task '${this.#owner.task.name}' has ended`) : undefined)
  }

  pump(): void {
    const owner = this.#owner
    const concurrency = owner.task.with!.concurrency
    const count = this.list.length
    while (!this.stopped && !this.#throttled && this.#inFlight < concurrency && this.#next < count && owner.host.accepting()) {
      if (++this.#burst > ITEMS_PER_TURN) {
        this.#yieldTurn()
        break
      }
      const index = this.#next++
      if (this.#resumed !== undefined && this.#resumeItem(index)) continue
      this.#inFlight++
      owner.host.emitItem(owner.task.name, 1, index)
      let offset = (index - this.#inputsFrom) * 2
      if (offset < 0 || offset >= this.#inputs.length) {
        if (!this.#fetchInputs(index, chunkSize(concurrency))) return
        offset = 0
      }
      owner.begin(1, index, this.#inputs[offset] as InputKind, this.#inputs[offset + 1])
    }
    if (this.#inFlight === 0 && !this.stopped && !this.#throttled) {
      if (this.#next >= count) owner.finish({ status: 'succeeded', result: this.#results, attempt: 1 })
      else owner.finish({ status: 'cancelled', attempt: 1 })
    }
  }

  #yieldTurn(): void {
    this.#burst = 0
    this.#throttled = true
    setImmediate(() => {
      this.#throttled = false
      if (!this.stopped && this.#owner.host.live()) this.pump()
    })
  }

  /**
   * An item a resume found in the journal: ended (its result is kept; true)
   * or waiting for a retry (its next attempt starts once what is left of a
   * durable delay has passed, at once after a short one; true), else
   * false: it runs from its first attempt.
   */
  #resumeItem(index: number): boolean {
    const journaled = this.#resumed!.get(index)
    if (journaled === undefined) return false
    const [attempt, status, payload, failed] = journaled
    const owner = this.#owner
    if (status === StatusCode.Retrying) {
      this.#inFlight++
      owner.host.emitItem(owner.task.name, attempt + 1, index)
      owner.retryDue(attempt, index, failed)
      return true
    }
    const ended = STATUS_NAME[status] as AttemptStatus
    if (ended === 'succeeded') this.#results[index] = payload
    else if (owner.task.continueOnError) this.#results[index] = { error: payload }
    else {
      // the item had failed the task just before the process died
      this.stopped = true
      owner.finish({ status: ended, error: payload as Failure, attempt })
    }
    return true
  }

  /** Renders the inputs of items `from..from + count`; false if the task failed instead. */
  #fetchInputs(from: number, count: number): boolean {
    const host = this.#owner.host
    try {
      host.crossings++
      this.#inputs = JSON.parse(native.runItemInputs(host.handle, this.#owner.task.index, this.#batch, from, count)) as unknown[]
      this.#inputsFrom = from
      return true
    } catch (error) {
      this.#owner.finish({ status: 'failed', error: toFailure(fromNative(error)), attempt: 1 })
      return false
    }
  }

  /** One item's input again (a retry): `[kind, value]`. */
  input(index: number): [InputKind, unknown] {
    this.#owner.host.crossings++
    return JSON.parse(native.runItemInputs(this.#owner.host.handle, this.#owner.task.index, this.#batch, index, 1)) as [InputKind, unknown]
  }

  /** An item ended, after its retries (`payload`: its result's JSON, when the attempt wrote it already). */
  done(index: number, attempt: number, status: AttemptStatus, value: unknown, startedAt: number, payload?: string): void {
    const host = this.#owner.host
    if (!host.durable) return this.#acknowledged(index, attempt, status, value)
    const seq = this.#journal(index, attempt, status, value, startedAt, payload)
    if (seq === undefined) return void this.#inFlight--
    // sync: the item stays in flight (the task cannot end) until its end is committed
    if (host.sync && seq !== 0) host.waitForStore(Math.abs(seq), () => this.#acknowledged(index, attempt, status, value))
    else this.#acknowledged(index, attempt, status, value)
  }

  /** An item's end is acknowledged: its place in the result, its event, what follows. */
  #acknowledged(index: number, attempt: number, status: AttemptStatus, value: unknown): void {
    const owner = this.#owner
    this.#inFlight--
    if (status === 'succeeded') this.#results[index] = value
    else if (owner.task.continueOnError) this.#results[index] = { error: value }
    owner.host.emitItem(owner.task.name, attempt, index, status)
    if (status !== 'succeeded' && !owner.task.continueOnError) {
      this.stopped = true
      this.#signal.abort(new Error(`item ${index} of task '${owner.task.name}' failed`))
      return owner.finish({ status, error: value as Failure, attempt })
    }
    this.pump()
  }

  /**
   * Journals an item's end (durable runs), with its charge; a full store
   * queue pauses the items until it drains. Answers the write's sequence
   * number (negative: the queue is full; 0: nothing queued), or undefined
   * when the item's result cannot be workflow data: the task failed.
   */
  #journal(index: number, attempt: number, status: AttemptStatus, value: unknown, startedAt: number, written?: string): number | undefined {
    const owner = this.#owner
    const host = owner.host
    const charge = this.itemCharge
    this.itemCharge = undefined
    const execution = unit(owner.task.index, owner.step, attempt)
    let payload: string
    try {
      payload = written ?? (status === 'succeeded' ? encode(value, this.what, MAX_DEPTH, index) : JSON.stringify(value))
    } catch (error) {
      // the item ran: billed as in memory, where the same result fails the task later
      if (charge) native.meterSettle(host.handle, execution, index, StatusCode.Succeeded, charge[0], charge[1])
      owner.finish({ status: 'failed', error: toFailure(error), attempt })
      return undefined
    }
    host.crossings++
    const seq = charge
      ? native.runItemDone(host.handle, execution, this.#batch, index, STATUS_CODE[status], payload, startedAt || Date.now(), charge[0], charge[1])
      : native.runItemDone(host.handle, execution, this.#batch, index, STATUS_CODE[status], payload, startedAt || Date.now())
    if (seq < 0 && !host.sync && !this.#throttled) {
      this.#throttled = true
      host.waitForStore(-seq, () => {
        this.#throttled = false
        if (!this.stopped && host.live()) this.pump()
      })
    }
    return seq
  }

  /** The activation ended: the window goes, the items' signal is unlinked. */
  end(): void {
    this.stopped = true
    this.#inputs = []
    this.#signal.unlink()
  }
}
