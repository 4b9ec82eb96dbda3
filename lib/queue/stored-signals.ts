/**
 * Signals across processes, the worker's side: `engine.signal` for a run
 * that another process's worker holds stores it (a `signal.stored` event
 * of the run's journal) and, on PostgreSQL, the commit sends `{"g":[id]}`.
 * The worker holding the run reads the run's journal and takes the stored
 * signals it has not taken yet into the live run's mailbox, so a waiting
 * run goes on at once. Per run, the journal's `signal.stored` events are
 * counted: those past the count are new (the journal only grows).
 *
 * A run claimed fresh counts from 0 (a queued run refuses signals). A run
 * taken over counts from a read made just after its resume, which
 * delivered what its journal held: a signal stored between the resume's
 * read and that one stays in the journal and is delivered by the run's
 * next resume, never twice.
 *
 * SQLite has no notifications: the worker asks here for its waiting runs
 * every `pollInterval` (250 ms by default).
 */
import type { Run } from '../engine/run'
import type { DurableStore } from '../store/store'

const STORED = 'signal.stored'

interface Tally {
  /** `signal.stored` events already taken (or left to a resume); undefined until the baseline read. */
  count: number | undefined
  /** Reads of one run go one after another (made by the first read: most runs are never signalled). */
  chain: Promise<void> | undefined
}

export class StoredSignals {
  readonly #store: DurableStore
  readonly #error: (error: Error) => void
  readonly #runs = new Map<string, Tally>()

  constructor(store: DurableStore, error: (error: Error) => void) {
    this.#store = store
    this.#error = error
  }

  /**
   * The worker holds `run` now: fresh (count from 0: its tally is made by
   * its first `take`, so a run never signalled costs nothing here) or taken
   * over (count what the journal holds, read now).
   */
  hold(run: Run, takenOver: boolean): void {
    if (!takenOver) return
    const tally: Tally = { count: undefined, chain: undefined }
    this.#runs.set(run.id, tally)
    this.#read(run, tally, true)
  }

  forget(id: string): void {
    this.#runs.delete(id)
  }

  /** A signal may have been stored for `run` (one the worker holds): take what is new. */
  take(run: Run): void {
    let tally = this.#runs.get(run.id)
    if (!tally) {
      tally = { count: 0, chain: undefined }
      this.#runs.set(run.id, tally)
    }
    this.#read(run, tally, false)
  }

  #read(run: Run, tally: Tally, baseline: boolean): void {
    tally.chain = (tally.chain ?? Promise.resolve())
      .then(async () => {
        const events = (await this.#store.events(run.id)).filter((e) => e.kind === STORED)
        if (this.#runs.get(run.id) !== tally) return // let go meanwhile
        if (baseline || tally.count === undefined) {
          tally.count = events.length
          return
        }
        for (const e of events.slice(tally.count)) run.takeStored(e.message, e.data ?? null)
        tally.count = Math.max(tally.count, events.length)
      })
      // a failed read (the database restarting): the next notice or poll reads again
      .catch((error: unknown) => this.#error(error as Error))
  }
}
