/** The shapes around an engine: its options, a start's and a resume's, what it reports. */
import type { BuiltinOptions } from '../actions'
import type { EventRecord, Logger, StoreStats, TaskRecord } from '../store/store'
import type { WorkflowDefinition } from '../workflow/model'
import type { Cost, MeteringOptions } from './metering'
import type { Durability, RunStatus } from './run'

export interface StartOptions {
  /** Cancels the run when aborted (policy `cancel_running`). */
  signal?: AbortSignal
  /** Default: a random UUID (version 7, time-ordered, with a store). */
  runId?: string
  /** Run-level timeout in milliseconds: the run ends `timed_out`. */
  timeout?: number
  /** Overrides the engine's durability for this run. */
  durability?: Durability
  /** The account that pays for the run's attempts (metering); without one the run is not metered. */
  account?: string
  /**
   * Starts at most one run per key: the same key returns the run it
   * started (live or ended) for `idempotencyRetentionMs`, unless that run
   * failed, was cancelled or timed out (then a new one starts). See `engine/idempotency.ts`.
   */
  idempotencyKey?: string
}

export interface EngineOptions {
  /**
   * `'memory'` (default: nothing persisted), `'sqlite:PATH'` (embedded,
   * WAL) or `'postgres://user:password@host:5432/db'` (also `postgresql://`;
   * `?schema=NAME` for a schema of its own, created if missing; the
   * password never appears in an error or a log). Engines of this process
   * on one database share its store and meter:
   * the store options below are the first engine's (leave them out, or
   * pass the same values), and `metering.overdraft` must be the same.
   * By default (`locking=exclusive`, on Unix) this process holds the file
   * and keeps SQLite's WAL index in its memory: a database made read-only
   * or a vanished `-shm` file is a retried store error, never a SIGBUS, and
   * another process (the CLI, a second service) opening the file gets a
   * `StoreHeldError` (after the 5 s lock wait) until this one closes. `'sqlite:PATH?locking=shared'`
   * in every process lets several share the file, through the mapped
   * `-shm` index, which a read-only or truncated `-shm` file can turn into
   * a SIGBUS that kills the process.
   *
   * ```ts
   * new Engine({ store: 'sqlite:./arcflow.db', durability: 'sync' })
   * new Engine({ store: 'sqlite:./shared.db?locking=shared' }) // in each process on it
   * new Engine({ store: 'postgres://app:secret@db:5432/arcflow?schema=tenant_1' })
   * ```
   */
  store?: string
  /** How deep sub-workflows (`workflow:` tasks) may nest; default 16. */
  maxWorkflowDepth?: number
  /** How long an idempotency key answers its run, from the run's start; default 24 h. */
  idempotencyRetentionMs?: number
  /**
   * With a store: `'batched'` (default; on disk within `flushIntervalMs`, a
   * crash loses at most that window), `'sync'` (a completion is
   * acknowledged once its batch commits; concurrent completions share a
   * commit) or `'none'` (skip the store).
   */
  durability?: Durability
  /** Default 50. */
  flushIntervalMs?: number
  /** Writes per transaction at most; default 10,000. */
  batchSize?: number
  /** Queued writes past which runs wait for the store (backpressure); default 100,000. */
  queueCapacity?: number
  /** Queued bytes (approximate) past which runs wait for the store, so memory stays bounded under a failing disk; default 256 MiB. */
  queueCapacityBytes?: number
  /**
   * Age of the oldest write not yet on disk past which runs wait for the
   * store (at least twice `flushIntervalMs`): bounds what `batched` loses
   * at a crash while the disk fails; default 1,000.
   */
  maxUnwrittenMs?: number
  /** Task completions of a run between two snapshots of its state (resume replays at most this many); default 256. */
  snapshotEvery?: number
  /** Lifecycle messages (opened, flushed, retrying, closed); pino or console shape. Default: silent. */
  logger?: Logger
  /**
   * With a store, default true: on SIGINT / SIGTERM the process exits 130 /
   * 143 with everything acknowledged committed, runs in progress left to
   * resume; unless the application listens for that signal itself, which
   * then owns the exit (its exit commits too). `false`: arcflow installs no
   * listener (Node's default: the signal kills the process, and `batched`
   * loses what was not yet flushed).
   */
  handleSignals?: boolean
  /** Register the built-in actions (`core.echo`, `core.sleep`, `core.fail`, `http.request`; `{ shell: true }` adds `shell.exec`). Default false. */
  builtins?: boolean | BuiltinOptions
  /** Credits charged per attempt to the run's account (`start(wf, input, { account })`). */
  metering?: MeteringOptions
}

/** `engine.action(name, fn, options)`; `I` is the action's input. */
export interface ActionOptions<I = unknown> {
  /** Credits per attempt (metered runs): a number, or a function of the input. Default: the engine's `metering.cost`, else 0. */
  cost?: Cost<I>
}


export interface ResumeOptions {
  /** The workflow the run belongs to; default: the one this engine loaded under the run's workflow name. */
  workflow?: WorkflowDefinition
  signal?: AbortSignal
  /** A timeout for the rest of the run, in milliseconds. */
  timeout?: number
  /** Default: the engine's (`batched` when that is `none`: a resumed run is durable). */
  durability?: Exclude<Durability, 'none'>
  /**
   * Resume with `workflow` (or the one loaded) even though it is not the
   * version the run started with. Default false: the run's own version is
   * rebuilt from the store, and a ResumeError says what changed when the
   * store lacks it.
   */
  allowChangedDefinition?: boolean
}

/** `engine.stats()`. */
export interface EngineStats {
  /** Runs in progress in this engine. */
  liveRuns: number
  /** The store's queue and flush figures (shared by the engines on it); `null` in memory. */
  store: StoreStats | null
  /** `getRun` of a live run is answered from memory (hit); of any other, from the store (miss). */
  cache: { hits: number; misses: number }
  /**
   * Credit leasing's database calls (a store other processes share:
   * PostgreSQL, SQLite unless `locking=exclusive`); `null` when the meter
   * owns its balances (in memory, an exclusive file) or is not made yet.
   */
  credit: CreditStats | null
}

/** What a leasing meter did (see `engine.stats().credit`). */
export interface CreditStats {
  /** Lease calls that added credit (background top-ups and blocking ones). */
  grants: number
  /** Lease calls a reservation waited for on the JavaScript thread (one round trip each). */
  blocking: number
  /** Reservations that waited for a lease off the JavaScript thread (the engine's path when the local block is spent). */
  waits: number
  /** Looks at a waiting reservation's state: one per wait (the credit thread tells when it settled; nothing polls). */
  looks: number
  /** Times the credit thread told JavaScript about settled reservations (one per pass of the thread, however many settled). */
  wakeups: number
  /** Lease calls the database could not cover. */
  refused: number
  /** Blocks given back (idle accounts, close). */
  returns: number
  renewals: number
  /** Leases found expired at a renewal (the process was stalled past its lease). */
  lost: number
  errors: number
  lastError: string | null
}


/** What `engine.getRun()` reports. */
export interface RunInfo {
  id: string
  workflow: string
  /** The version of the workflow the run runs (`WorkflowDefinition.version`). */
  version?: string
  status: RunStatus
  /** Still running in this process. */
  live: boolean
  input?: unknown
  output?: unknown
  error?: unknown
  startedAt?: number
  endedAt?: number
  /** Task executions, in the order they ended (durable runs). */
  tasks: TaskRecord[]
  /** The run's journal of events: what its handlers logged (`ctx.log`), resumes. */
  events: EventRecord[]
}
