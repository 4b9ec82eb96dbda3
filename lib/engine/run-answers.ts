/**
 * The core's answers that end a run, read into what the run reports: the
 * failure (with the task and attempt it came from) of a step limit, a
 * transition that chose `fail`, an unhandled failure, an output that could
 * not be rendered, or a join left waiting (with its `join.blocked` event).
 * Pure: the run (`run.ts`) acts on them.
 */
import { fromNativeData, type JoinError } from '../errors'
import type { TaskDefinition } from '../workflow/model'
import type { NewEvent } from './events'
import { toFailure, type Failure } from './failure'
import { AnswerKind } from './protocol'
import { dataFailure } from './task'
import type { TaskOutcome } from './task-host'

/** A task's outcome as a completion reports it. */
export type EndedOutcome = Exclude<TaskOutcome, { status: 'cancelled' }>

/** The completion an answer follows. */
export interface Completion {
  task: string
  attempt: number
  outcome: EndedOutcome
}

/** How the run fails, as an answer says. */
export interface RunFailure {
  failure: Failure
  task?: string
  attempt?: number
  /** A join left waiting: its event, before the run's end. */
  blocked?: NewEvent
}

/** The failure an ending answer (`StepLimit`, `Fail`, `Unhandled`, `OutputError`, `JoinError`) says; undefined for any other. */
export function answerFailure(answer: unknown[], from: Completion | undefined, tasks: readonly TaskDefinition[]): RunFailure | undefined {
  switch (answer[0]) {
    case AnswerKind.StepLimit: {
      const limit = answer[2] as number
      const task = tasks[answer[1] as number]!.name
      return { failure: { name: 'StepLimitError', message: `step limit of ${limit} task executions reached (a cycle?); raise step_limit if this is intended` }, task }
    }
    case AnswerKind.Fail: {
      const { task, attempt, outcome } = from!
      const failure = outcome.status === 'succeeded' ? { name: 'Error', message: `task '${task}' chose to fail the run` } : outcome.error
      return { failure, task, attempt }
    }
    case AnswerKind.Unhandled: {
      const { task, attempt, outcome } = from!
      return { failure: (outcome as { error: Failure }).error, task, attempt }
    }
    case AnswerKind.OutputError: {
      const failure = dataFailure(answer[1])
      return { failure: { name: 'OutputError', message: failure.message, cause: failure } }
    }
    case AnswerKind.JoinError: {
      // nothing left to run and a join still waits: the run fails by the join's name
      const error = fromNativeData(answer[1] as Parameters<typeof fromNativeData>[0]) as JoinError
      const blocked: NewEvent = { type: 'join.blocked', join: error.join, waitingFor: error.waitingFor, arrived: error.arrived, needed: error.needed }
      return { failure: toFailure(error), task: error.join, blocked }
    }
    default:
      return undefined
  }
}

