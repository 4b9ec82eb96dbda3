/**
 * Sub-workflows (`workflow: NAME` tasks): each attempt runs the named
 * workflow as a child run of its own, with the task's rendered input; its
 * output is the attempt's result, its failure the attempt's (a
 * `SubworkflowError` whose cause is the child's). As the action of its
 * task, it gets retries, timeouts and with-items for free: an attempt's
 * timeout, or an item's sibling failing, aborts the attempt's signal, which
 * cancels the child; the parent's own cancel or timeout cancels it through
 * `children` (so an attempt that only the run can abort passes no signal:
 * reading it would build the run's AbortController and a listener, a few
 * µs of every child run).
 *
 * A child's id is its parent's, task, activation, item and attempt
 * (`PARENT/TASK/STEP[.ITEM]/ATTEMPT`): a resumed parent finds the child an
 * interrupted attempt started and takes its outcome (ended), resumes it
 * (interrupted), or starts it (never started), instead of starting another.
 */
import { ArcflowError, registerErrorCode } from '../errors'
import type { RunRecord } from '../store/store'
import type { WorkflowDefinition } from '../workflow/model'
import { reporting, type Action, type ActionContext, type Attempt } from './attempt'
import { RunFailedError, RunStoppedError } from './run-errors'
import type { RunEvent } from './events'
import type { Failure } from './failure'
import { isLive } from './statuses'

/** How deep sub-workflows nest unless `maxWorkflowDepth` says otherwise (documented in the README). */
export const DEFAULT_MAX_WORKFLOW_DEPTH = 16

/** A child run failed, was cancelled or timed out (code `ARCFLOW_SUBWORKFLOW`); `cause`: the child's error. */
export class SubworkflowError extends ArcflowError {
  readonly workflow: string
  readonly childId: string
  constructor(workflow: string, childId: string, options?: ErrorOptions) {
    super('ARCFLOW_SUBWORKFLOW', `sub-workflow '${workflow}' (run ${childId}) did not succeed`, options)
    this.workflow = workflow
    this.childId = childId
  }
}

/** A child run would nest deeper than the engine's `maxWorkflowDepth` (code `ARCFLOW_SUBWORKFLOW_DEPTH`): runaway recursion. */
export class SubworkflowDepthError extends ArcflowError {
  readonly depth: number
  constructor(workflow: string, depth: number) {
    super('ARCFLOW_SUBWORKFLOW_DEPTH', `sub-workflow '${workflow}' would run at depth ${depth + 1}, past the limit of ${depth} (maxWorkflowDepth): runaway recursion?`)
    this.depth = depth
  }
}

registerErrorCode('ARCFLOW_SUBWORKFLOW', SubworkflowError)
registerErrorCode('ARCFLOW_SUBWORKFLOW_DEPTH', SubworkflowDepthError)

/** What a child run is to its parent's task. */
export interface ChildRun {
  readonly id: string
  /** A child just started: its start tasks go, once its parent's task follows it (a resumed one: nothing). */
  begin(): void
  /** `then(error, output)` once it has ended, as its `result()` would settle. */
  whenEnded(then: (error: Error | undefined, output: unknown) => void): void
}

/** A parent run, as its workflow tasks see it. */
export interface ParentRun {
  readonly id: string
  readonly depth: number
  readonly resumed: boolean
  readonly children: Set<ChildRun & { cancel(): Promise<void> }>
  emit(event: RunEvent): void
}

/** What the engine lends its workflow tasks; `P`: its runs, as the parents it hands out and takes back. */
export interface SubflowHost<P extends ParentRun = ParentRun> {
  maxDepth(): number
  runOf(id: string): P | undefined
  workflowOf(name: string): WorkflowDefinition | undefined
  /** Starts the child (account, durability and store: the parent's). */
  start(workflow: WorkflowDefinition, input: unknown, childId: string, parent: P, task: string, signal: AbortSignal | undefined): ChildRun & { cancel(): Promise<void> }
  /** A resumed parent's child: live here, in the store (ended or interrupted), or none. */
  find(childId: string): Promise<ChildRun & { cancel(): Promise<void> } | RunRecord | undefined>
  resume(childId: string, parent: P, task: string, signal: AbortSignal | undefined): ChildRun & { cancel(): Promise<void> }
}

/** The id of the child run an attempt starts. */
export function childId(parentId: string, task: string, step: number, attempt: number, index: number | undefined): string {
  return `${parentId}/${task}/${step}${index === undefined ? '' : `.${index}`}/${attempt}`
}

/** What an ended child's record says, as its `result()` would: its error, or its output. */
function storedOutcome(record: RunRecord): { error?: Error; output?: unknown } {
  if (record.status === 'succeeded') return { output: record.output }
  if (record.status === 'failed') return { error: new RunFailedError(record.id, (record.error ?? { name: 'Error', message: 'failed' }) as Failure) }
  return { error: new RunStoppedError(record.id, record.status === 'timed_out' ? 'timed_out' : 'cancelled') }
}

/**
 * The action of a `workflow` task. It ends its attempt itself (a
 * `ReportingAction`): a first run's attempt starts its child, whose end
 * reports the outcome. An async action's promises, and the ticks through
 * them, were a noticeable share of a one-task child's cost.
 */
export function workflowAction<P extends ParentRun>(host: SubflowHost<P>, taskName: string, workflowName: string): Action {
  return reporting((input: unknown, ctx: ActionContext) => {
    const attempt = ctx as Attempt // a reporting action's context is its attempt
    const parent = host.runOf(attempt.runId)
    const workflow = host.workflowOf(workflowName)
    if (!parent || !workflow) throw new ArcflowError('ARCFLOW_INPUT', `task '${taskName}' runs workflow '${workflowName}', which this engine has not loaded`)
    if (parent.depth + 1 > host.maxDepth()) throw new SubworkflowDepthError(workflowName, host.maxDepth())
    const id = childId(parent.id, taskName, attempt.step, attempt.attempt, attempt.index)
    const signal = attempt.bounded ? attempt.signal : undefined
    if (!parent.resumed) return followChild(parent, host.start(workflow, input, id, parent, taskName, signal), attempt, workflowName)
    host.find(id).then((found) => {
      if (found && 'whenEnded' in found) return followChild(parent, found, attempt, workflowName)
      if (found && !isLive(found.status)) {
        announce(parent, attempt, id, workflowName)
        const { error, output } = storedOutcome(found)
        return error ? attempt.report(true, new SubworkflowError(workflowName, id, { cause: error })) : attempt.report(false, output)
      }
      followChild(parent, found ? host.resume(id, parent, taskName, signal) : host.start(workflow, input, id, parent, taskName, signal), attempt, workflowName)
    }).catch((error: unknown) => attempt.report(true, error))
  })
}

/** `task.child`: the attempt's child run is `id`. */
function announce(parent: ParentRun, attempt: Attempt, id: string, workflow: string): void {
  const e = { type: 'task.child', runId: parent.id, time: Date.now(), task: attempt.task, attempt: attempt.attempt, childId: id, workflow } as RunEvent & { index?: number }
  if (attempt.index !== undefined) e.index = attempt.index
  parent.emit(e)
}

/**
 * The attempt's outcome is its live child's; the parent cancels it while it
 * runs. A success is reported as the child ends; a failure a microtask
 * later, since it may come of the parent's own cancel or of the attempt's
 * deadline, which must finish first (the parent's own status, the
 * attempt's `timed_out`).
 */
function followChild(parent: ParentRun, child: ChildRun & { cancel(): Promise<void> }, attempt: Attempt, workflow: string): void {
  announce(parent, attempt, child.id, workflow)
  parent.children.add(child)
  child.whenEnded((error, output) => {
    parent.children.delete(child)
    if (!error) return attempt.report(false, output)
    const failure = new SubworkflowError(workflow, child.id, { cause: error })
    queueMicrotask(() => attempt.report(true, failure))
  })
  child.begin()
}

/**
 * A cycle of workflows calling each other among those loaded, through
 * `added` (`['a', 'b', 'a']`), or undefined: a load-time check, since
 * names are static. Depth is still bounded at run time (`maxWorkflowDepth`)
 * for what no single engine sees loaded at once.
 */
export function workflowCycle(added: WorkflowDefinition, loaded: (name: string) => WorkflowDefinition | undefined): string[] | undefined {
  const path: string[] = [added.name]
  const seen = new Set<string>()
  const visit = (workflow: WorkflowDefinition): boolean => {
    for (const task of workflow.taskList) {
      if (task.kind !== 'workflow') continue
      const name = task.workflow!
      if (name === added.name) return path.push(name), true
      const next = loaded(name)
      if (!next || seen.has(name)) continue
      seen.add(name)
      path.push(name)
      if (visit(next)) return true
      path.pop()
    }
    return false
  }
  return visit(added) ? path : undefined
}
