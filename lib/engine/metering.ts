/**
 * Metering, on the JavaScript side: costs per action (a number or a
 * function of the input), checked here; balances, reservations and the
 * ledger live in the native core (`meterReserve` / `meterSettle`: one
 * atomic operation each, no I/O). Before an attempt runs, its estimated
 * cost is reserved; when it ends, the actual cost (`ctx.charge(n)`, else
 * the estimate) is charged and the rest returned.
 */
import { native } from '../binding'
import { ArcflowError, registerErrorCode } from '../errors'
import type { Failure } from './failure'

/** Credits for an attempt: a number, or a function of the attempt's input (`I`: the action's). */
export type Cost<I = unknown> = number | ((input: I, unit: { action: string; task: string; index?: number }) => number)

export interface MeteringOptions {
  /** The cost of an attempt of an action registered without one. Default 0. */
  cost?: Cost
  /** Reservations may take a balance below zero: `true` without limit. Default false. */
  allowNegative?: boolean
  /** How far below zero reservations may take a balance (credits). Default 0. */
  overdraft?: number
  /** Charge failed and timed-out attempts too (their actual cost). Default false: they are refunded. */
  billFailed?: boolean
  /**
   * On a store other processes share: how long a lease of credit lasts
   * unrenewed (renewed every third of it), so how soon a killed process's
   * unspent credit returns to the account. Give workers the same as their
   * `engine.work({ lease })`, so that a dead worker's credit returns when its
   * runs are taken over. Default 30,000 ms (the workers' default lease);
   * the engines of one process on one store must agree.
   */
  leaseMs?: number
}

/** `metering.leaseMs`'s default: the same as `engine.work`'s lease. */
export const DEFAULT_CREDIT_LEASE_MS = 30_000

/** An account cannot cover an attempt (code `ARCFLOW_INSUFFICIENT_BALANCE`): the attempt did not run. */
export class InsufficientBalanceError extends ArcflowError {
  readonly account: string
  readonly needed: number
  readonly balance: number
  constructor(account: string, needed: number, balance: number) {
    super('ARCFLOW_INSUFFICIENT_BALANCE', `account '${account}' has ${balance} credits; this attempt needs ${needed}`)
    this.account = account
    this.needed = needed
    this.balance = balance
  }
}

/** Bad metering input (code `ARCFLOW_METERING`): an unknown account, a bad cost or amount. */
export class MeteringError extends ArcflowError {
  constructor(message: string, options?: ErrorOptions) {
    super('ARCFLOW_METERING', message, options)
  }
}

registerErrorCode('ARCFLOW_INSUFFICIENT_BALANCE', InsufficientBalanceError)
registerErrorCode('ARCFLOW_METERING', MeteringError)

/** A whole number of credits from 0 to 2^53 - 1, or a MeteringError. */
export function credits(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new MeteringError(`${what} must be a whole number of credits from 0 to 2^53 - 1, got ${typeof value === 'bigint' ? `${value}n` : String(value)}`)
  }
  return value
}

/** Checks a cost given at registration: a number now, a function later (per attempt). */
export function checkCost(cost: unknown, what: string): Cost {
  if (typeof cost === 'function') return cost as Cost
  return credits(cost, what)
}

/** What a metered run needs: its meter, its account, and each task's cost. */
export interface RunMeter {
  handle: number
  /** The native cost table of the workflow (static costs reserved in the core). */
  table: number
  accountName: string
  account: number
  /** By task index. */
  costs: Cost[]
  actions: string[]
}

/** The estimated cost of an attempt, or the failure that stops it (a cost function that throws or answers nonsense). */
export function estimate(meter: RunMeter, task: number, taskName: string, input: unknown, index: number): number | Failure {
  const cost = meter.costs[task]!
  if (typeof cost === 'number') return cost
  try {
    const unit = index >= 0 ? { action: meter.actions[task]!, task: taskName, index } : { action: meter.actions[task]!, task: taskName }
    return credits(cost(input, unit), `the cost of task '${taskName}'`)
  } catch (error) {
    const cause = error instanceof Error ? error : new Error(String(error))
    const failure: Failure = { name: 'MeteringError', code: 'ARCFLOW_METERING', message: cause instanceof MeteringError ? cause.message : `the cost function of task '${taskName}' threw: ${cause.message}` }
    if (!(cause instanceof MeteringError)) failure.cause = { name: cause.name, message: cause.message }
    return failure
  }
}

/** The account's balance now (for messages). */
export function balanceOf(meter: RunMeter, store: unknown): number {
  return native.meterBalance(meter.handle, meter.accountName, store as never) ?? 0
}
