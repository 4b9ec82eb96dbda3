/**
 * An engine's options checked (a `TypeError` naming the option) and their
 * defaults, before anything is opened.
 */
import type { StoreSettings } from '../store/shared'
import type { StoreTarget } from '../store/url'
import type { EngineOptions } from './engine-types'
import type { Durability } from './run'
import { DEFAULT_MAX_WORKFLOW_DEPTH } from './subflows'
import { DEFAULT_IDEMPOTENCY_RETENTION_MS } from './idempotency'

/** The store options' defaults. */
export const STORE_DEFAULTS: StoreSettings = { flushIntervalMs: 50, batchSize: 10_000, queueCapacity: 100_000, snapshotEvery: 256, queueCapacityBytes: 256 * 1024 * 1024, maxUnwrittenMs: 1_000 }

export function durabilityOf(options: EngineOptions, target: StoreTarget | undefined): Durability {
  const durability = options.durability ?? (target === undefined ? 'none' : 'batched')
  if (!['none', 'batched', 'sync'].includes(durability)) throw new TypeError(`durability must be 'none', 'batched' or 'sync', got ${JSON.stringify(durability)}`)
  if (target === undefined && durability !== 'none') throw new TypeError(`durability '${durability}' needs a store: pass store: 'sqlite:PATH' or 'postgres://...'`)
  return durability
}

/** The store settings asked for; one left out takes the open store's value, or the default. */
export function requestedStoreSettings(options: EngineOptions): Partial<StoreSettings> {
  const positive = (v: number | undefined, what: string): number | undefined => {
    if (v === undefined) return undefined
    if (!Number.isInteger(v) || v < 1 || v > 0xffffffff) throw new TypeError(`${what} must be a positive integer, got ${String(v)}`)
    return v
  }
  const positiveBytes = (v: number | undefined): number | undefined => {
    if (v === undefined) return undefined
    if (!Number.isSafeInteger(v) || v < 1) throw new TypeError(`queueCapacityBytes must be a positive integer, got ${String(v)}`)
    return v
  }
  return {
    flushIntervalMs: positive(options.flushIntervalMs, 'flushIntervalMs'),
    batchSize: positive(options.batchSize, 'batchSize'),
    queueCapacity: positive(options.queueCapacity, 'queueCapacity'),
    snapshotEvery: positive(options.snapshotEvery, 'snapshotEvery'),
    queueCapacityBytes: positiveBytes(options.queueCapacityBytes),
    maxUnwrittenMs: positive(options.maxUnwrittenMs, 'maxUnwrittenMs'),
  }
}

export function maxDepthOf(options: EngineOptions): number {
  const depth = options.maxWorkflowDepth ?? DEFAULT_MAX_WORKFLOW_DEPTH
  if (!Number.isInteger(depth) || depth < 0 || depth > 1000) throw new TypeError(`maxWorkflowDepth must be an integer from 0 to 1000, got ${String(depth)}`)
  return depth
}

export function retentionOf(options: EngineOptions): number {
  const retention = options.idempotencyRetentionMs ?? DEFAULT_IDEMPOTENCY_RETENTION_MS
  if (typeof retention !== 'number' || !(retention >= 0)) throw new TypeError(`idempotencyRetentionMs must be a number of milliseconds, got ${String(retention)}`)
  return retention
}
