/**
 * The runs a worker holds (`worker.ts`), by id: started, buffered until a
 * slot frees (`prefetch`), or ended and waiting for their end's commit;
 * and how one is let go when it is no longer the worker's (lost, claimed
 * again, released): out of the buffer, its stored signals forgotten, its
 * run abandoned while its last event (`run.lease_lost`) still reaches the
 * worker's listeners.
 */
import { LeaseLostError } from '../errors'
import type { Run } from '../engine/run'
import { CLAIM_ID, type Claimed } from './native'
import type { StoredSignals } from './stored-signals'

/** A run the worker holds. */
export interface Held {
  run: Run | undefined
  epoch: number
  /** The claim answers seen when it was claimed: see `Leases`. */
  claimSeq: number
  /** It ended here and waits for its end to commit (`ends.ts`): held (leased, fenced), but no longer taking a slot. */
  ended?: boolean
}

export class HeldRuns {
  readonly byId = new Map<string, Held>()
  /** Claimed runs waiting for a slot (see `WorkOptions.prefetch`), oldest first. */
  #buffer: Array<[Claimed, Held]> = []
  /** Runs being let go: their last event (`run.lease_lost`) is still this worker's. */
  readonly #lettingGo = new Set<string>()
  readonly #signals: StoredSignals

  constructor(signals: StoredSignals) {
    this.#signals = signals
  }

  get size(): number {
    return this.byId.size
  }

  get buffered(): number {
    return this.#buffer.length
  }

  /** Run `id` is held as `held` still (not lost, released or claimed again meanwhile). */
  holds(id: string, held: Held): boolean {
    return this.byId.get(id) === held
  }

  /** The run's events are the worker's: held, or being let go. */
  follows(runId: string): boolean {
    return this.byId.has(runId) || this.#lettingGo.has(runId)
  }

  hold(id: string, held: Held): void {
    this.byId.set(id, held)
  }

  /** Held, but waiting for a slot. */
  buffer(claim: Claimed, held: Held): void {
    this.#buffer.push([claim, held])
  }

  /** The oldest buffered run still held as it was buffered (one let go meanwhile is skipped), out of the buffer. */
  nextBuffered(): [Claimed, Held] | undefined {
    while (this.#buffer.length > 0) {
      const next = this.#buffer.shift()!
      if (this.holds(next[0][CLAIM_ID], next[1])) return next
    }
    return undefined
  }

  /** Run `id` ended here or was let go: no longer held, its stored signals forgotten. */
  forget(id: string): void {
    this.byId.delete(id)
    this.#signals.forget(id)
  }

  /**
   * Run `id` is no longer this worker's (lost, or claimed again): no longer
   * held (a buffered one only leaves the buffer) and, while its run is live,
   * waiting or its end not yet committed, abandoned with a `LeaseLostError`
   * (`message`: why, else the default). Answers whether it was abandoned.
   */
  drop(id: string, held: Held, message?: string): boolean {
    this.forget(id)
    this.#buffer = this.#buffer.filter(([, b]) => b !== held)
    const run = held.run
    if (run !== undefined && run.status !== 'running' && run.status !== 'waiting') return false
    this.abandon(id, run, new LeaseLostError(id, message), 'lost')
    return true
  }

  /** Every run held, no longer held (`stop({ drain: false })` releases them). */
  takeAll(): Array<[string, Held]> {
    const held = [...this.byId]
    this.byId.clear()
    this.#buffer = []
    for (const [id] of held) this.#signals.forget(id)
    return held
  }

  /** The run (if started) is aborted, its last events still the worker's. */
  abandon(id: string, run: Run | undefined, reason: LeaseLostError, why: 'lost' | 'released'): void {
    this.#lettingGo.add(id)
    try {
      run?.abandon(reason, why)
    } finally {
      this.#lettingGo.delete(id)
    }
  }
}
