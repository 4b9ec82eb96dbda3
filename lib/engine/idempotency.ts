/**
 * Idempotent starts (`engine.start(wf, input, { idempotencyKey })`): a key
 * answers the run it started, live or ended, instead of starting another,
 * for the retention (default 24 h from the run's start). A run of the key
 * that failed, was cancelled or timed out does not count: the next start
 * with the key starts a new run (a retry after a failure is what a key is
 * for).
 *
 * The keys this process started are answered from memory (shared by the
 * engines of this process on one store, so 1,000 concurrent starts make one
 * run). A durable start with a key this process does not know claims it in
 * the store (`start_keys`, one row per key, taken or read in one
 * transaction: see the core's `store/start_keys.rs`), so that of any number
 * of processes starting one key at once exactly one run starts; the others
 * are answered that run (ended: its outcome; live in another process, or
 * not yet in the store: a `RunExistsError` carrying its id).
 *
 * The claim is synchronous, on the JS thread: `start` answers a `Run` (and
 * its id) at once, so which run a key names must be settled before it
 * returns; the write-behind queue commits later and could not say. It is
 * one short transaction (one statement on PostgreSQL, timed by the
 * database's clock), paid only by keyed starts this process has not
 * seen; it waits at most 5 s for another connection's lock, then fails
 * with a transient `StoreError`. A claim whose run never reached the store
 * (its process died in between) is given up after a minute.
 *
 * A start without durability (`durability: 'none'`) writes nothing: its
 * key is only read from the store (checked, not locked).
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
   * store's record of another (another process's, or from before a
   * restart; a bare id and `running` for one not in the store yet);
   * undefined when `runId` starts with the key (a durable start: claimed).
   */
  answer(key: string, runId: string, retentionMs: number, durable: boolean, now = Date.now()): KeyedRun | RunRecord | undefined {
    this.#prune(retentionMs, now)
    const known = this.#keys.get(key)
    if (known && !DID_NOT_SUCCEED.has(known.run.status)) return known.run
    if (!this.#store) return undefined
    if (!durable) return this.#lookup(key, retentionMs, now)
    // a run of ours that did not succeed may still read `running` in the store (its end queued)
    // by the store's clock (the database's on PostgreSQL), whatever this machine's says
    const text = this.#store.native.claimStartKey(key, runId, retentionMs, known?.run.id ?? null)
    if (text === null) return undefined
    const { runId: holder, run } = JSON.parse(text) as { runId: string; run: RawRun | null }
    return run ? runRecord(run) : { id: holder, status: 'running' }
  }

  /**
   * The store's newest run of `key`, read as committed now (no claim): a
   * start that does not claim (`durability: 'none'` on a store) checks the
   * retention by this process's clock, unlike claims (the store's).
   */
  #lookup(key: string, retentionMs: number, now: number): RunRecord | undefined {
    const text = this.#store!.native.runByStartKeyNow(key)
    if (text === null) return undefined
    const record = runRecord(JSON.parse(text) as RawRun)
    if (now - record.startedAt > retentionMs || DID_NOT_SUCCEED.has(record.status)) return undefined
    return record
  }

  /** A run started with `key`: it answers the key from now on (`durable`: its history says so too). */
  started(key: string, run: KeyedRun, durable: boolean): void {
    this.#keys.delete(key) // to the end: the map stays in start order
    this.#keys.set(key, { run, at: Date.now() })
    if (durable) this.#store!.native.linkRun(run.id, null, null, key)
  }

  /** The start of `runId` with `key` failed before the run existed: its claim goes. */
  abandoned(key: string, runId: string, durable: boolean): void {
    if (durable && this.#store) this.#store.native.releaseStartKey(key, runId)
  }

  /** Keys past the retention go (the oldest are first). */
  #prune(retentionMs: number, now: number): void {
    for (const [key, { at }] of this.#keys) {
      if (now - at <= retentionMs) break
      this.#keys.delete(key)
    }
  }
}
