/**
 * What the core's answer to a resume says (see the binding's `runResume`):
 * the signals received and not taken, the resume's journal message, and
 * what the run does next: start its activations again (each with what
 * the journal holds of it, see `task-host.ts` `ResumedActivation`), follow
 * the completion that ended it before its end was written, or complete.
 * The run (`run.ts`) acts on it.
 */
import type { TaskDefinition } from '../workflow/model'
import type { Failure } from './failure'
import { AnswerKind, STATUS_NAME, takeAck, type InputKind } from './protocol'
import type { Completion, EndedOutcome } from './run-answers'
import type { ResumedActivation } from './task-host'

/** An activation to start again: its task's index, its activation number, its first input, its journal. */
export interface ResumedTask {
  readonly index: number
  readonly step: number
  readonly kind: InputKind
  readonly value: unknown
  readonly resumed: ResumedActivation
}

export type ResumePlan =
  /** `steps`: activations so far, against the step limit. */
  | { readonly kind: 'continue'; readonly steps: number; readonly tasks: ResumedTask[] }
  /** The last completion journaled ended the run: follow `next` from it. */
  | { readonly kind: 'ended'; readonly next: AnswerKind; readonly from: Completion }
  /** Complete: `answer` is its output, or why it failed (recorded by the core already). */
  | { readonly kind: 'complete'; readonly answer: unknown[] }

export interface Resume {
  readonly plan: ResumePlan
  /** Signals received and not taken, in order: for the waits. */
  readonly signals: Array<[string, unknown]>
  /** What the core journaled the resume does. */
  readonly message: string
}

type PendingRow = [number, number, InputKind, unknown, number, number, number | null, number | null, ResumedActivation['items']]

/** Reads the answer of `native.runResume` (its acknowledgement taken off: nothing waits, the journal is on disk already). */
export function readResume(answer: unknown[], tasks: readonly TaskDefinition[]): Resume {
  takeAck(answer)
  const message = answer.pop() as string
  const signals = answer.pop() as Array<[string, unknown]>
  if (answer[0] === AnswerKind.Resumed) {
    const steps = (answer[1] as number[]).reduce((sum, n) => sum + n, 0)
    const pending = (answer[2] as PendingRow[]).map(([index, step, kind, value, attempt, interrupted, began, failed, items]): ResumedTask => (
      { index, step, kind, value, resumed: { attempt, interrupted: interrupted === 1, began, failed, items } }))
    return { plan: { kind: 'continue', steps, tasks: pending }, signals, message }
  }
  if (answer[0] === AnswerKind.ResumedEnded) {
    const [, t, attempt, status, payload, next] = answer as [number, number, number, number, unknown, AnswerKind]
    const name = STATUS_NAME[status] as EndedOutcome['status']
    const outcome = name === 'succeeded' ? { status: name, result: payload, attempt } : { status: name, error: payload as Failure, attempt }
    return { plan: { kind: 'ended', next, from: { task: tasks[t]!.name, attempt, outcome } }, signals, message }
  }
  return { plan: { kind: 'complete', answer }, signals, message }
}
