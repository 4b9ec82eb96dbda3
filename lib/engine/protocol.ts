/**
 * The engine's side of the wire to the core (its twin is
 * `crates/arcflow-node/src/protocol.rs`): the codes come from the `#[napi]`
 * enums of the generated `.d.ts` (const enums: inlined, nothing looked up
 * at run time), the packings of several numbers into one live here only,
 * and `__test__/protocol.spec.ts` checks that the core unpacks what this
 * module packs.
 */
import { AnswerKind, InputKind, StatusCode } from '../native'
import type { RunMeter } from './metering'

export { AnswerKind, InputKind, StatusCode }

/** An attempt's status as it crosses. */
export const STATUS_CODE = { succeeded: StatusCode.Succeeded, failed: StatusCode.Failed, timed_out: StatusCode.TimedOut } as const

/** Journaled execution statuses by code (resume answers). */
export const STATUS_NAME = ['succeeded', 'failed', 'timed_out', 'retrying'] as const

/** An execution of a task: `(task * 2^20 + step) * 2^16 + attempt`. The only packing of step and attempt. */
export function unit(task: number, step: number, attempt: number): number {
  return (task * 1048576 + step) * 65536 + attempt
}

/** `runComplete`'s first argument: `handle * 2^20 + task * 16 + status * 4 + follow * 2 + idle`. */
export function completeOp(handle: number, task: number, status: StatusCode, follow: boolean, idle: boolean): number {
  return handle * 1048576 + task * 16 + status * 4 + (follow ? 2 : 0) + (idle ? 1 : 0)
}

/** A durable run's answer ends with `full, seq`: takes them off. */
export function takeAck(answer: unknown[]): { full: boolean; seq: number } {
  const seq = answer.pop() as number
  const full = answer.pop() === 1
  return { full, seq }
}

/**
 * What the core reserved for an attempt that starts with an input of
 * `kind`: a task's static cost when the attempt runs (-1: nothing, the
 * engine reserves a cost function's estimate itself).
 */
export function reservedBy(meter: RunMeter | undefined, task: number, kind: InputKind): number {
  const cost = meter?.costs[task]
  return typeof cost === 'number' && (kind === InputKind.Rendered || kind === InputKind.None) ? cost : -1
}
