/**
 * The one place the engine dispatches on a task's kind (its twin in the
 * core is `RunState::first_input`): a new kind is a module of its own plus
 * one case here.
 */
import type { TaskDefinition } from '../workflow/model'
import type { Action } from './attempt'
import type { InputKind } from './protocol'
import { SleepRun } from './sleep'
import { TaskRun } from './task'
import type { ResumedActivation, TaskHost } from './task-host'
import { WaitRun } from './wait'

/** What a task that calls no action (a wait, a sleep) has in its action's place: never called. */
export const notAnAction: Action = () => {
  throw new Error('internal error: a task that calls no action was given an attempt')
}

/** Starts an activation of `task` with the first input the core answered. */
export function startTask(task: TaskDefinition, host: TaskHost, action: Action, step: number, kind: InputKind, value: unknown, resumed?: ResumedActivation): void {
  switch (task.kind) {
    case 'action':
      return new TaskRun(task, host, action, step).start(kind, value, resumed)
    case 'workflow':
      // the action starts the child run (subflows.ts); a resumed attempt finds its child again
      return new TaskRun(task, host, action, step, true).start(kind, value, resumed)
    case 'wait':
      return new WaitRun(task, host, action, step).start(kind, value, resumed)
    case 'sleep':
      return new SleepRun(task, host, action, step).start(kind, value, resumed)
  }
}
