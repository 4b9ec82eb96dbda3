/**
 * Which caller-given run ids the engines on one store must refuse (one
 * instance per store, shared: see `store/shared.ts`): live here, ended here
 * with writes still queued (the database cannot say yet), or in the store
 * as committed now. Only ids a caller gives are tracked: generated ones
 * (UUID v7) never collide.
 */
import { RunExistsError } from '../errors'
import type { DurableStore } from '../store/store'

export class GivenRunIds {
  readonly #store: DurableStore | undefined
  /** Live durable runs started with a caller's id. */
  readonly #live = new Set<string>()
  /** Those that ended here, each with the store's write count at its end (oldest first, pruned as they commit). */
  readonly #ended = new Map<string, number>()

  constructor(store: DurableStore | undefined) {
    this.#store = store
  }

  /**
   * Throws a `RunExistsError` for a taken id. `live`: this engine has a
   * live run with it; `durable`: the new run would be journaled.
   *
   * @example
   * ids.claim('order-42', runs.has('order-42'), true)
   */
  claim(runId: string, live: boolean, durable: boolean): void {
    if (live) throw new RunExistsError(runId, 'running in this engine')
    const store = this.#store
    if (!store || !durable) return
    if (this.#live.has(runId)) throw new RunExistsError(runId, 'running in another engine on this store')
    if (this.#ended.size > 0) {
      const settled = store.stats().settled
      for (const [id, seq] of this.#ended) {
        if (seq > settled) break
        this.#ended.delete(id)
      }
      if (this.#ended.has(runId)) throw new RunExistsError(runId, 'ended in this engine (its writes are still queued)')
    }
    // one lookup by key, never waiting for queued writes or a lock
    if (store.hasRunNow(runId)) throw new RunExistsError(runId, 'in the store')
  }

  /** A durable run with a caller's id started. */
  started(runId: string): void {
    this.#live.add(runId)
  }

  /** A run ended (any run: only given ids are kept). */
  ended(runId: string): void {
    if (this.#live.delete(runId)) this.#ended.set(runId, this.#store!.stats().enqueued)
  }
}
