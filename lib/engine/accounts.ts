/**
 * An engine's metering: its accounts and costs, the native meter behind
 * them (created on first use; in memory one per engine, freed by `close`;
 * with a store the store's, shared by the engines on it), the cost table of each
 * workflow, and the ledger reads. Runs get a `RunMeter` from here.
 */
import { native } from '../binding'
import { EngineClosedError, fromNative } from '../errors'
import { nativeRead, type ReadOptions } from '../store/read'
import type { DurableStore } from '../store/store'
import type { StoreLease } from '../store/shared'
import type { WorkflowDefinition } from '../workflow/model'
import { closeMeter } from './credit-wait'
import type { CreditStats } from './engine-types'
import { checkCost, credits, DEFAULT_CREDIT_LEASE_MS, MeteringError, type Cost, type MeteringOptions, type RunMeter } from './metering'

/** `engine.credit()`'s answer. */
export interface Credit {
  /** False when the key was used before: nothing was added. */
  applied: boolean
  balance: number
}

/** A charge (negative) or a credit (positive). */
export interface LedgerEntry {
  /** Unique: `RUN/TASK/STEP/ITEM/ATTEMPT/charge` for a charge, `credit/KEY` for a credit. */
  key: string
  account: string
  amount: number
  kind: 'charge' | 'credit'
  runId?: string
  task?: string
  item?: number
  attempt?: number
  /** Milliseconds since the epoch. */
  at: number
}

/**
 * How far below zero a reservation may take a balance (`allowNegative`:
 * unlimited); checked. The engines on one store must agree (one meter).
 */
export function overdraftOf(options: MeteringOptions = {}): number {
  return options.allowNegative ? Infinity : credits(options.overdraft ?? 0, 'metering.overdraft')
}

/** What configures the meter a store's engines share: they must agree on it. */
export interface MeterSettings {
  overdraft: number
  /** The credit lease's length on a store other processes share (`metering.leaseMs`). */
  leaseMs: number
}

/** The largest `metering.leaseMs` (the native side takes a u32 of ms). */
const MAX_LEASE_MS = 2 ** 31 - 1

/** The shared meter's settings from an engine's metering options; checked (a `MeteringError`). */
export function meterSettingsOf(options: MeteringOptions = {}): MeterSettings {
  const leaseMs = options.leaseMs ?? DEFAULT_CREDIT_LEASE_MS
  if (!Number.isInteger(leaseMs) || leaseMs < 100 || leaseMs > MAX_LEASE_MS) {
    throw new MeteringError(`metering.leaseMs must be a whole number of milliseconds from 100 to ${MAX_LEASE_MS}, got ${String(leaseMs)}`)
  }
  return { overdraft: overdraftOf(options), leaseMs }
}

export class Accounts {
  readonly #store: DurableStore | undefined
  /** With a store: its meter is the store's, shared by every engine on it. */
  readonly #lease: StoreLease | undefined
  readonly #cost: Cost
  readonly #overdraft: number
  readonly #billFailed: boolean
  /** Costs of actions registered with one, by name. */
  readonly #costs = new Map<string, Cost>()
  /** Each workflow's costs by task index and native cost table (until an action is registered again). */
  #taskCosts = new WeakMap<WorkflowDefinition, { costs: Cost[]; table: number }>()
  #handle: number | undefined
  /** Native cost tables made (freed by close). */
  readonly #tables: number[] = []
  #closed = false

  constructor(options: MeteringOptions = {}, lease: StoreLease | undefined) {
    this.#lease = lease
    this.#store = lease?.store
    this.#cost = checkCost(options.cost ?? 0, 'metering.cost')
    this.#overdraft = overdraftOf(options)
    this.#billFailed = options.billFailed ?? false
  }

  /** An action's cost (undefined: the engine's default); checked now when it is a number. */
  setCost(action: string, cost: Cost | undefined): void {
    if (cost !== undefined) this.#costs.set(action, checkCost(cost, `the cost of action '${action}'`))
    else this.#costs.delete(action)
    this.#taskCosts = new WeakMap()
  }

  #meter(): number {
    if (this.#closed) throw new EngineClosedError()
    this.#handle ??= this.#lease ? this.#lease.meter() : native.meterCreate(null, this.#overdraft)
    return this.#handle
  }

  /**
   * A run's meter: its account (which must exist) and each task's cost.
   * Never waits: an account this meter knows is answered from memory; one
   * it does not know yet is read from the store as committed now (this
   * meter's queued writes only concern accounts it knows), and a database
   * locked by another process fails at once instead of blocking.
   */
  runMeter(workflow: WorkflowDefinition, account: string): RunMeter {
    if (typeof account !== 'string' || account === '') throw new MeteringError(`account must be a non-empty string, got ${JSON.stringify(account)}`)
    const handle = this.#meter()
    let id: number
    try {
      id = native.meterAccount(handle, account, this.#store?.native ?? null)
    } catch (error) {
      throw fromNative(error)
    }
    if (id < 0) throw new MeteringError(`unknown account '${account}': credit it first (engine.credit)`)
    let known = this.#taskCosts.get(workflow)
    if (!known) {
      // a wait or a sleep costs nothing
      const costs = workflow.taskList.map((task) => (task.kind === 'action' ? (this.#costs.get(task.action) ?? this.#cost) : 0))
      const table = native.meterCostTable(handle, costs.map((cost) => (typeof cost === 'number' ? cost : -1)), this.#billFailed)
      this.#tables.push(table)
      known = { costs, table }
      this.#taskCosts.set(workflow, known)
    }
    return { handle, table: known.table, account: id, accountName: account, costs: known.costs, actions: workflow.taskList.map((t) => t.action) }
  }

  /** An account's balance: from memory, or read once (without waiting) for an account this meter does not know yet. */
  balance(account: string): number {
    let balance: number | null
    try {
      balance = native.meterBalance(this.#meter(), String(account), this.#store?.native ?? null)
    } catch (error) {
      throw fromNative(error)
    }
    if (balance === null) throw new MeteringError(`unknown account '${account}'`)
    return balance
  }

  /** Credits once per key: this meter's own keys are in memory, others are read as committed now (never waits). */
  credit(account: string, amount: number, options: { key: string }): Credit {
    if (typeof account !== 'string' || account === '') throw new MeteringError(`account must be a non-empty string, got ${JSON.stringify(account)}`)
    credits(amount, 'a credit')
    if (typeof options?.key !== 'string' || options.key === '') throw new MeteringError('a credit needs a key (a non-empty string): the same key is applied once')
    try {
      return JSON.parse(native.meterCredit(this.#meter(), account, amount, options.key, this.#store?.native ?? null)) as Credit
    } catch (error) {
      throw fromNative(error)
    }
  }

  /** An account's latest ledger entries, newest first: a read of the store for a durable meter (see `engine.ledger`). */
  async ledger(account: string, options: { limit?: number } & ReadOptions): Promise<LedgerEntry[]> {
    const limit = options.limit ?? 100
    if (!Number.isInteger(limit) || limit < 1 || limit > 0xffffffff) throw new TypeError(`limit must be a positive integer, got ${String(limit)}`)
    const handle = this.#meter()
    const entries = await nativeRead<Array<LedgerEntry & Record<string, unknown>>>(options.signal, (signal) =>
      native.meterLedger(handle, String(account), limit, this.#store?.native ?? null, signal),
    )
    for (const entry of entries) for (const key of Object.keys(entry)) if (entry[key] === null) delete entry[key]
    return entries
  }

  /** A leasing meter's database calls, or null (see `EngineStats.credit`). */
  creditStats(): CreditStats | null {
    if (this.#handle === undefined || this.#closed) return null
    const text = native.meterStats(this.#handle)
    return text === null ? null : (JSON.parse(text) as CreditStats)
  }

  /** From now on balance, credit and ledger refuse (the engine is closing); runs still settle. */
  refuse(): void {
    this.#closed = true
  }

  /**
   * Frees this engine's cost tables, and its in-memory meter (once the
   * engine's runs have ended); a store's meter goes with the store's last engine.
   */
  close(): void {
    this.#closed = true
    if (this.#handle !== undefined) closeMeter(this.#lease ? null : this.#handle, this.#tables)
    this.#handle = undefined
  }
}
