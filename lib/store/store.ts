/**
 * The durable store as the engine sees it: the native write-behind queue
 * over SQLite or PostgreSQL (`NativeStore`), plus what JavaScript adds: waiting
 * for commits (one long poll on a libuv thread serves every waiter: group
 * commit), lifecycle messages to a pluggable logger, and history reads
 * (async, on a libuv thread: see `read.ts`), answered as the records of
 * `records.ts`.
 */
import { native } from '../binding'
import { fromNative } from '../errors'
import type { NativeStore } from '../native'
import { nativeRead, type ReadOptions, type RunFilter } from './read'
import type { StoreTarget } from './url'
import { eventRecord, runRecord, storedRun, taskRecord, type EventRecord, type RawEvent, type RawExecution, type RawRun, type RawRunInfo, type RunRecord, type StoredRun, type TaskRecord } from './records'

export { runRecord } from './records'
export type { EventRecord, RawRun, RunRecord, StoredRun, TaskRecord } from './records'

/** The pino / console shape. */
export interface Logger {
  debug(message: string, data?: unknown): void
  info(message: string, data?: unknown): void
  warn(message: string, data?: unknown): void
  error(message: string, data?: unknown): void
}

export interface StoreStats {
  queueDepth: number
  /** The queued writes' approximate size in bytes (the batch in flight included). */
  queueBytes: number
  enqueued: number
  committed: number
  /** Every write up to this sequence number is committed or set aside (`committed + rejected`). */
  settled: number
  /** Writes the store refused for good (a permanent error): set aside, not retried. */
  rejected: number
  batches: number
  retries: number
  lastFlushAt: number | null
  lastFlushMs: number | null
  lastFlushRows: number
  failing: string | null
  /** `failing` is permanent: the writes it names were set aside, not retried. */
  permanent: boolean
  /** The last permanent failure and the writes it set aside, kept once the store moves on. */
  rejection: string | null
  closed: boolean
  /** Calls that waited on the JavaScript thread for queued writes to commit (only `engine.resume` may). */
  blockingWaits: number
  /** Writes of a run's `waiting` status (set or cleared) this store queued: coalesced, at most one per run per settle window (`waiting-mark.ts`). */
  waitingWrites: number
}

export interface StoreOptions {
  flushIntervalMs: number
  batchSize: number
  queueCapacity: number
  /** Queued bytes (approximate) past which runs wait. Default 256 MiB. */
  queueCapacityBytes?: number | undefined
  /** Age of the oldest unwritten write past which runs wait (at least twice the flush interval). Default 1,000. */
  maxUnwrittenMs?: number | undefined
  /** Completions of a run between two snapshots of its state. */
  snapshotEvery?: number | undefined
  logger: Logger
}

export class DurableStore {
  /** @internal */
  readonly native: NativeStore
  /** Which database, its password masked for messages (`target.shown`). */
  readonly target: StoreTarget
  readonly #logger: Logger
  #settled = 0
  #rejected = 0
  #failing: string | null = null
  #permanent = false
  readonly #waiters: Array<{ seq: number; resolve: () => void }> = []
  #polling = false
  #closed = false
  #waitingWrites = 0

  constructor(target: StoreTarget, options: StoreOptions) {
    this.target = target
    this.#logger = options.logger
    try {
      this.native = new native.NativeStore(target.url, options.flushIntervalMs, options.batchSize, options.queueCapacity, options.snapshotEvery ?? null, options.queueCapacityBytes ?? null, options.maxUnwrittenMs ?? null)
    } catch (error) {
      throw fromNative(error)
    }
    this.#logger.info('arcflow store opened', { store: target.shown, flushIntervalMs: options.flushIntervalMs })
  }

  stats(): StoreStats {
    const stats = JSON.parse(this.native.stats()) as StoreStats
    stats.waitingWrites = this.#waitingWrites
    return stats
  }

  /** @internal Queues a run's `waiting` status (`since`: epoch ms, or null: no longer waiting), counted for `stats()`. */
  setWaiting(id: string, since: number | null): void {
    this.#waitingWrites++
    this.native.setWaiting(id, since)
  }

  /**
   * Resolves once every write up to `seq` is committed, or set aside for a
   * permanent error (logged as an error; see `stats().rejection`).
   */
  committed(seq: number): Promise<void> {
    if (seq <= this.#settled) return Promise.resolve()
    return new Promise((resolve) => {
      this.#waiters.push({ seq, resolve })
      if (!this.#polling) void this.#poll()
    })
  }

  async #poll(): Promise<void> {
    this.#polling = true
    try {
      while (this.#waiters.length > 0) {
        const stats = JSON.parse(await this.native.waitProgress(this.#settled, 1000)) as StoreStats
        this.#observe(stats)
        if (stats.closed) break
      }
    } finally {
      this.#polling = false
    }
  }

  #observe(stats: StoreStats): void {
    if (stats.settled > this.#settled) {
      this.#logger.debug('arcflow store flushed', { rows: stats.lastFlushRows, ms: stats.lastFlushMs, queueDepth: stats.queueDepth })
      this.#settled = stats.settled
    }
    if (stats.rejected > this.#rejected) {
      this.#logger.error('arcflow store: writes refused for good (a permanent error), set aside and not retried', { error: stats.rejection, rejected: stats.rejected })
      this.#rejected = stats.rejected
    }
    if (stats.failing !== this.#failing) {
      if (stats.failing && !stats.permanent) this.#logger.warn('arcflow store: a batch failed, retrying', { error: stats.failing, retries: stats.retries })
      else if (!stats.failing && this.#failing && !this.#permanent) this.#logger.info('arcflow store recovered', { retries: stats.retries })
      this.#failing = stats.failing
      this.#permanent = stats.permanent
    }
    // waiters arrive in sequence order: release from the front
    let released = 0
    while (released < this.#waiters.length && this.#waiters[released]!.seq <= this.#settled) released++
    for (const waiter of this.#waiters.splice(0, released)) waiter.resolve()
  }

  /**
   * A run's record, executions and events in one read, once this process's
   * queued writes commit (on a libuv thread); undefined for an unknown run.
   *
   * @example
   * const info = await store.runInfo(id, { signal })
   */
  async runInfo(id: string, options: ReadOptions = {}): Promise<StoredRun | undefined> {
    const raw = await nativeRead<RawRunInfo | null>(options.signal, (signal) => this.native.runInfo(id, signal))
    return raw === null ? undefined : storedRun(raw)
  }

  /**
   * The same, blocking the JavaScript thread while queued writes commit
   * (bounded): only for `engine.resume`, which answers a `Run` at once.
   */
  runInfoSync(id: string): StoredRun | undefined {
    let text: string | null
    try {
      text = this.native.runInfoSync(id)
    } catch (error) {
      throw fromNative(error)
    }
    return text === null ? undefined : storedRun(JSON.parse(text) as RawRunInfo)
  }

  /**
   * Keeps a workflow version's definition (queued like any write; once per
   * version, however often it is written).
   *
   * @example
   * store.recordWorkflow(workflow.name, workflow.version, workflow.definition)
   */
  recordWorkflow(name: string, version: string, definition: string): void {
    try {
      this.native.recordWorkflow(name, version, definition)
    } catch (error) {
      throw fromNative(error)
    }
  }

  /**
   * The definition (normalized JSON) of a workflow version, or undefined when
   * the store lacks it; blocking like `runInfoSync`, and only for `engine.resume`.
   *
   * @example
   * const text = store.workflowDefinitionSync(record.workflow, record.version!)
   */
  workflowDefinitionSync(name: string, version: string): string | undefined {
    try {
      return this.native.workflowDefinitionSync(name, version) ?? undefined
    } catch (error) {
      throw fromNative(error)
    }
  }

  /**
   * Whether the database has run `id` as committed now: one bounded
   * lookup that never waits for queued writes or another connection's lock.
   *
   * @example
   * if (store.hasRunNow('order-42')) throw new Error('taken')
   */
  hasRunNow(id: string): boolean {
    try {
      return this.native.hasRunNow(id)
    } catch (error) {
      throw fromNative(error)
    }
  }

  /** Runs, newest first, once this process's queued writes commit. */
  async runs(filter: RunFilter = {}, options: ReadOptions = {}): Promise<RunRecord[]> {
    const rows = await nativeRead<RawRun[]>(options.signal, (signal) => this.native.runs(filter.status ?? null, filter.workflow ?? null, filter.limit ?? null, signal))
    return rows.map(runRecord)
  }

  /** A run's task executions, in journal order. */
  async tasks(runId: string, options: ReadOptions = {}): Promise<TaskRecord[]> {
    return (await nativeRead<RawExecution[]>(options.signal, (signal) => this.native.tasks(runId, signal))).map(taskRecord)
  }

  /** A run's journal of events, oldest first. */
  async events(runId: string, options: ReadOptions = {}): Promise<EventRecord[]> {
    return (await nativeRead<RawEvent[]>(options.signal, (signal) => this.native.events(runId, signal))).map(eventRecord)
  }

  integrityCheck(): string {
    return this.native.integrityCheck()
  }

  /** Commits everything queued, then closes. Loses nothing. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.native.requestClose()
    // waits in slices of one second: the process can still exit meanwhile
    let stats = this.stats()
    while (!stats.closed) {
      stats = JSON.parse(await this.native.waitProgress(stats.settled, 1000)) as StoreStats
      this.#observe(stats)
    }
    this.native.closeSync() // the thread is done: joins at once
    this.#observe(stats)
    this.#logger.info('arcflow store closed', { committed: stats.committed, batches: stats.batches })
  }

  /** The same, blocking: for `process.on('exit')`. */
  closeSync(): void {
    if (this.#closed) return
    this.#closed = true
    this.native.closeSync()
  }
}

const noop = (): void => {}
export const silentLogger: Logger = { debug: noop, info: noop, warn: noop, error: noop }
