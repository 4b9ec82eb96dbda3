/**
 * Engines of one thread on one store share it: one `DurableStore` (the file
 * opened once: one writer, one flush thread, one reader), one native meter
 * (one balance per account, reservations included, so two engines cannot
 * overspend an account between them) and one set of taken run ids. A
 * module-level map holds them by the store's key (an SQLite file's
 * canonical path, a PostgreSQL URL normalized: see `url.ts`), with a count of the engines holding each: `release` gives an engine's
 * reference back, and the last one flushes and closes the store for real.
 *
 * Options: the store's own (`flushIntervalMs`, `batchSize`, ...) are the
 * first engine's; a later engine that leaves one out joins with it, one
 * that asks for a different value is refused (`TypeError`). The meter's
 * overdraft is one for all (an account's floor must not depend on which
 * engine ran the task): a different one is a `MeteringError`, and so is a
 * different `metering.leaseMs`. The key is
 * the file, whatever `?locking=` the URL says; a different locking mode
 * from the open store's is a `TypeError` (one file, one mode per process).
 * The logger of the store's lifecycle messages is the first engine's.
 *
 * The map is per thread (a worker thread loads its own addon and modules),
 * and per process: engines of two processes (or two worker threads) on one
 * file are two stores, whose meters lease credit from the database so that
 * together they never overspend an account (`crates/arcflow-core/src/meter/lease.rs`).
 */
import { native } from '../binding'
import type { MeterSettings } from '../engine/accounts'
import { closeMeter } from '../engine/credit-wait'
import { MeteringError } from '../engine/metering'
import { GivenRunIds } from '../engine/run-ids'
import { StartKeys } from '../engine/idempotency'
import { DurableStore, type StoreOptions } from './store'
import type { StoreTarget } from './url'

/** The options that configure a store itself (compared when engines share one). */
export const STORE_SETTINGS = ['flushIntervalMs', 'batchSize', 'queueCapacity', 'queueCapacityBytes', 'maxUnwrittenMs', 'snapshotEvery'] as const
type Setting = (typeof STORE_SETTINGS)[number]
export type StoreSettings = Pick<Required<StoreOptions>, Setting>

interface Entry {
  readonly key: string
  readonly locking: string | undefined
  readonly store: DurableStore
  readonly settings: StoreSettings
  readonly meterSettings: MeterSettings
  readonly ids: GivenRunIds
  /** Runs live in any engine on this store. */
  readonly live: Set<string>
  /** Idempotency keys started by any engine on this store (see `engine/idempotency.ts`). */
  readonly startKeys: StartKeys
  meter: number | undefined
  refs: number
}

/** Open stores by key: an SQLite file's canonical path, a PostgreSQL URL normalized. */
const open = new Map<string, Entry>()

/** One engine's hold on a shared store. */
export class StoreLease {
  readonly #entry: Entry
  #released = false

  /** @internal */
  constructor(entry: Entry) {
    this.#entry = entry
  }

  get store(): DurableStore {
    return this.#entry.store
  }

  /** The run ids taken by any engine on this store. */
  get ids(): GivenRunIds {
    return this.#entry.ids
  }

  /** The idempotency keys of runs started by any engine of this process on this store. */
  get startKeys(): StartKeys {
    return this.#entry.startKeys
  }

  /** The ids of runs live in any engine on this store (each engine adds and removes its own). */
  get live(): Set<string> {
    return this.#entry.live
  }

  /** The store's native meter, made on first use and shared by its engines. */
  meter(): number {
    const entry = this.#entry
    entry.meter ??= native.meterCreate(entry.store.native, entry.meterSettings.overdraft, entry.meterSettings.leaseMs)
    return entry.meter
  }

  /**
   * Gives this engine's reference back (once): the last one frees the meter
   * and flushes and closes the store; an earlier one leaves both open for
   * the other engines.
   */
  async release(): Promise<void> {
    if (this.#released) return
    this.#released = true
    const entry = this.#entry
    if (--entry.refs > 0) return
    if (open.get(entry.key) === entry) open.delete(entry.key)
    if (entry.meter !== undefined) closeMeter(entry.meter, [])
    entry.meter = undefined
    await entry.store.close()
  }
}

/**
 * Opens the store `target` names, or joins the one an engine of this
 * thread has open there. `requested`: the store options the engine was given (the
 * others take the open store's values, or `defaults`).
 *
 * @example
 * const lease = acquireStore(parseStoreUrl(url)!, { flushIntervalMs: 20 }, defaults, { overdraft: 0, leaseMs: 30_000 }, logger)
 */
export function acquireStore(target: StoreTarget, requested: Partial<StoreSettings>, defaults: StoreSettings, meterSettings: MeterSettings, logger: StoreOptions['logger']): StoreLease {
  const key = target.key()
  const locking = target.locking
  const entry = open.get(key)
  if (entry && !entry.store.stats().closed) {
    if (locking !== entry.locking) {
      throw new TypeError(`locking=${locking} differs from locking=${entry.locking}, which another engine has this store open with (${key}): engines on one file share one store: open it with the same mode, or once they have closed`)
    }
    for (const name of STORE_SETTINGS) {
      const wanted = requested[name]
      if (wanted !== undefined && wanted !== entry.settings[name]) {
        throw new TypeError(`${name} ${wanted} differs from ${entry.settings[name]}, which another engine has this store open with (${target.shown}): engines on one store share it; leave ${name} out, or pass the same value`)
      }
    }
    const { overdraft, leaseMs } = meterSettings
    if (overdraft !== entry.meterSettings.overdraft) {
      const show = (n: number): string => (n === Infinity ? 'unlimited (allowNegative)' : String(n))
      throw new MeteringError(`metering overdraft ${show(overdraft)} differs from ${show(entry.meterSettings.overdraft)}, which another engine on this store has: engines on one store share one meter and one balance per account`)
    }
    if (leaseMs !== entry.meterSettings.leaseMs) {
      throw new MeteringError(`metering.leaseMs ${leaseMs} differs from ${entry.meterSettings.leaseMs}, which another engine on this store has: engines on one store share one meter`)
    }
    entry.refs++
    return new StoreLease(entry)
  }
  const settings = { ...defaults } as StoreSettings
  for (const name of STORE_SETTINGS) if (requested[name] !== undefined) settings[name] = requested[name]!
  const store = new DurableStore(target, { ...settings, logger })
  // keyed as the store is now that it exists (an SQLite file: a symlink to a file the open created)
  const created: Entry = { key: target.key(), locking, store, settings, meterSettings, ids: new GivenRunIds(store), live: new Set(), startKeys: new StartKeys(store), meter: undefined, refs: 1 }
  open.set(created.key, created)
  return new StoreLease(created)
}
