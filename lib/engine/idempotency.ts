/**
 * Idempotent starts (`engine.start(wf, input, { idempotencyKey })`): a key
 * answers the run it started, live or ended, instead of starting another,
 * for the retention (default 24 h from the run's start). A run of the key
 * that failed, was cancelled or timed out does not count: the next start
 * with the key starts a new run (a retry after a failure is what a key is
 * for). The keys this process started are answered from memory (shared by
 * the engines of this process on one store, so 1,000 concurrent starts
 * make one run); any other from the store (`runs.start_key`), by one
 * indexed lookup that never waits for a lock. Across processes, two
 * starts with one key at the same moment can both start (the store is
 * checked, not locked): use `engine.enqueue`'s key (a unique column,
 * answered whatever its run's state) where that matters.
 */
import type { DurableStore, RawRun, RunRecord } from '../store/store'
import { runRecord } from '../store/store'

/** How long a key answers its run unless `idempotencyRetentionMs` says otherwise. */
export const DEFAULT_IDEMPOTENCY_RETENTION_MS = 24 * 60 * 60 * 1000

/** What a key's run is to a start. */
export interface KeyedRun {
  readonly id: string
  readonly status: string
}

const DID_NOT_SUCCEED = new Set(['failed', 'cancelled', 'timed_out'])

export class StartKeys {
  readonly #store: DurableStore | undefined
  /** Key → its newest run and when it started, oldest first (insertion order). */
  readonly #keys = new Map<string, { run: KeyedRun; at: number }>()

  constructor(store: DurableStore | undefined) {
    this.#store = store
  }

  /**
   * The run key `key` answers: one of this process (live or ended), or the
   * store's record of one (another process's, or from before a restart);
   * undefined when a new run must start.
   */
  find(key: string, retentionMs: number, now = Date.now()): KeyedRun | RunRecord | undefined {
    this.#prune(retentionMs, now)
    const known = this.#keys.get(key)
    if (known) return DID_NOT_SUCCEED.has(known.run.status) ? undefined : known.run
    if (!this.#store) return undefined
    const text = this.#store.native.runByStartKeyNow(key)
    if (text === null) return undefined
    const record = runRecord(JSON.parse(text) as RawRun)
    if (now - record.startedAt > retentionMs || DID_NOT_SUCCEED.has(record.status)) return undefined
    return record
  }

  /** A run started with `key`: it answers the key from now on. */
  started(key: string, run: KeyedRun, durable: boolean): void {
    this.#keys.delete(key) // to the end: the map stays in start order
    this.#keys.set(key, { run, at: Date.now() })
    if (durable) this.#store!.native.linkRun(run.id, null, null, key)
  }

  /** Keys past the retention go (the oldest are first). */
  #prune(retentionMs: number, now: number): void {
    for (const [key, { at }] of this.#keys) {
      if (now - at <= retentionMs) break
      this.#keys.delete(key)
    }
  }
}
