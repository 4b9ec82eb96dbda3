/**
 * The waiting side of a run: the signals sent to it (journaled first when
 * it is durable) and its mailbox, the waits and sleeps parked now (their
 * deadlines dropped if the run ends first), and for a durable run the
 * `waiting` mark its store is told of (coalesced, see `waiting-mark.ts`).
 * A run makes it on its first signal, wait or sleep: most runs never need
 * it. A run is `waiting` while everything it has in flight is parked.
 */
import { native } from '../binding'
import { fromNative } from '../errors'
import type { DurableStore } from '../store/store'
import { encode } from '../values'
import type { RunEvent } from './events'
import { removeDeadline, type Deadline } from './deadlines'
import { Mailbox } from './mailbox'
import type { RunStatus } from './run-types'
import { noteWaiting, type WaitingMarked } from './waiting-mark'

/** What the waiting side needs of its run. */
export interface WaitingRun {
  readonly id: string
  /** Its handle in the native registry (a durable run journals its signals there). */
  readonly handle: number
  /** Native calls, counted for `run.stats()`. */
  crossings: number
  /** `sync` durability: a signal resolves once committed. */
  readonly sync: boolean
  emit(event: RunEvent): void
  /** As callers read it: `waiting` when everything in flight is parked. */
  readonly status: RunStatus
  /** Running, still this process's to write, its end not pending: the store may be told whether it waits. */
  markable(): boolean
}

export class RunWaits implements WaitingMarked {
  readonly #run: WaitingRun
  readonly #store: DurableStore | undefined
  #mailbox: Mailbox | undefined
  /** Waits and sleeps parked now. */
  #parked: Set<Deadline> | undefined
  /** What the store was last told: the run is waiting. */
  #written = false

  constructor(run: WaitingRun, store: DurableStore | undefined) {
    this.#run = run
    this.#store = store
  }

  get mailbox(): Mailbox {
    return (this.#mailbox ??= new Mailbox())
  }

  /** Signal `name` for the live run: journaled first (durable), then received; `sync` resolves once committed. */
  send(name: string, payload: unknown): Promise<void> {
    const run = this.#run
    let seq = 0
    // the journal row and the event say the same time (a stream rebuilt from the store shows it)
    const time = Date.now()
    try {
      const json = encode(payload, `payload of signal '${name}'`)
      if (this.#store) {
        run.crossings++
        seq = native.runSignal(run.handle, name, json, time)
      }
    } catch (error) {
      return Promise.reject(fromNative(error))
    }
    this.received(name, payload, time)
    return run.sync && seq !== 0 ? this.#store!.committed(Math.abs(seq)) : Promise.resolve()
  }

  /** A signal journaled already (at `time`): its event, then the oldest wait for it takes it, else it is kept. */
  received(name: string, payload: unknown, time = Date.now()): void {
    this.#run.emit({ type: 'signal.received', runId: this.#run.id, time, name, payload })
    this.mailbox.deliver(name, payload)
  }

  /** Everything in flight (`active` activations) is parked. */
  allParked(active: number): boolean {
    const parked = this.#parked
    return parked !== undefined && parked.size > 0 && parked.size >= active
  }

  park(parked: Deadline): void {
    ;(this.#parked ??= new Set()).add(parked)
    if (this.#store) noteWaiting(this)
  }

  unpark(parked: Deadline): void {
    this.#parked?.delete(parked)
    if (this.#store) noteWaiting(this)
  }

  /** Activity changed beside parked work: the waiting state may have too. */
  activity(): void {
    if (this.#store && (this.#written || (this.#parked !== undefined && this.#parked.size > 0))) noteWaiting(this)
  }

  /** Tells the store whether the run waits now, if that changed (see waiting-mark.ts). */
  settleWaiting(): void {
    // an ended run's end says it all; a released one is no longer this process's to write
    if (!this.#run.markable()) return
    const waiting = this.#run.status === 'waiting'
    if (waiting === this.#written) return
    this.#written = waiting
    this.#store!.setWaiting(this.#run.id, waiting ? Date.now() : null)
  }

  /** The run ended: its parked deadlines go (none fires), and its signals. */
  stop(): void {
    if (this.#parked) for (const parked of this.#parked) removeDeadline(parked)
    this.#parked = undefined
    this.#mailbox = undefined
  }
}
