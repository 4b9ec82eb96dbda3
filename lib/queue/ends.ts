/**
 * A worker's runs that ended here and wait for their ends to commit. A run
 * counts as completed only once its end commits (a `batched` run announces
 * its end before that, and the fence may still refuse it: the lease was
 * lost meanwhile, which makes it lost instead), but its slot is free at
 * once: the ends of one turn of the event loop wait for one commit
 * together while the next claim goes, so capacity is not held for a flush
 * interval per run.
 */
import type { DurableStore } from '../store/store'

export interface EndsOwner<H> {
  /** The slots are free: start buffered runs, claim more. */
  freed(): void
  /** The ends of `batch` committed (refusals looked at first): `held` is still the run's unless it was lost. */
  committed(batch: Array<[string, H]>): void
}

export class Ends<H> {
  readonly #store: DurableStore
  readonly #owner: EndsOwner<H>
  #batch: Array<[string, H]> = []
  #waiting = 0

  constructor(store: DurableStore, owner: EndsOwner<H>) {
    this.#store = store
    this.#owner = owner
  }

  /** Held runs that ended and wait for their ends' commit (a lost or released one counted until its batch settles). */
  get waiting(): number {
    return this.#waiting
  }

  add(id: string, held: H): void {
    this.#waiting++
    this.#batch.push([id, held])
    if (this.#batch.length === 1) setImmediate(() => this.#settle())
  }

  #settle(): void {
    const batch = this.#batch
    this.#batch = []
    this.#owner.freed()
    void this.#store.committed(this.#store.stats().enqueued).then(() => {
      this.#waiting -= batch.length
      this.#owner.committed(batch)
    })
  }
}
