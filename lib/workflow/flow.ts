/**
 * Builds a workflow's native task graph once, at load: every run of the
 * workflow shares it, and the engine refers to tasks by index, so a task's
 * start and completion each take one call into the core.
 */
import { native } from '../binding'
import { fromNative } from '../errors'
import type { NativeFlow } from '../native'
import { Template } from '../template'
import type { WorkflowDefinition } from './model'

const TARGET_FAIL = -1
const TARGET_NOOP = -2

export function buildFlow(workflow: Omit<WorkflowDefinition, 'flow' | 'taskList'>): NativeFlow {
  try {
    const flow = new native.NativeFlow(workflow.name)
    const tasks = [...workflow.tasks.values()]
    for (const task of tasks) {
      const items = task.with?.items
      const join = task.join === undefined ? -1 : task.join === 'all' ? 0 : task.join
      flow.addTask(
        task.name,
        task.input?.native ?? null,
        items instanceof Template ? items.native : null,
        items !== undefined && !(items instanceof Template) ? items.native : null,
        join,
        task.retry?.when?.native ?? null,
        task.retry?.count ?? 0,
        // to the core a workflow task is an action: its attempt starts the child run (lib/engine/subflows.ts)
        task.kind === 'workflow' ? 'action' : task.kind,
      )
    }
    for (const task of tasks) {
      for (const transition of task.next) {
        for (const { name, value } of transition.publish) flow.addPublish(name, value.native)
        const targets = transition.do.map((target) =>
          target === 'fail' ? TARGET_FAIL : target === 'noop' ? TARGET_NOOP : (workflow.tasks.get(target)!.index),
        )
        flow.addTransition(task.index, transition.when?.native ?? null, targets)
      }
    }
    flow.setStart(workflow.start.map((name) => workflow.tasks.get(name)!.index))
    for (const { name, value } of workflow.vars) flow.addVar(name, value.native)
    if (workflow.output) flow.setOutput(workflow.output.native)
    flow.setStepLimit(workflow.stepLimit)
    flow.setVersion(workflow.version)
    flow.seal()
    return flow
  } catch (error) {
    throw fromNative(error)
  }
}
