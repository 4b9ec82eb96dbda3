/**
 * arcflow: a workflow runtime for Node.js services with a Rust core.
 *
 * @example
 * import { WorkflowContext, compile } from 'arcflow'
 * const ctx = new WorkflowContext({ input: { name: 'Ada' } })
 * ctx.render(compile('Hello {{ input.name }}!')) // 'Hello Ada!'
 */
import { loadNative } from './binding'

// a platform without a binary fails here, at import, with the one clear error
loadNative()

export { WorkflowContext } from './context'
export type { ContextDocument, ContextInit, OutcomeStatus, TaskOutcome } from './context'
export { compile, compileCondition, JsonTemplate, Template } from './template'
export type { CompileOptions, TemplateKind } from './template'
export {
  AbortedError,
  ArcflowError,
  ContextError,
  EngineClosedError,
  ExpressionError,
  InputError,
  InternalError,
  InterruptedError,
  JoinError,
  LeaseLostError,
  NativeBindingError,
  QueueError,
  StoreError,
  StoreHeldError,
  ResumeError,
  SignalError,
  RunEndedError,
  RunExistsError,
  UnknownWorkflowError,
  ServerError,
  ValueError,
  WorkflowError,
} from './errors'
export type { ExpressionErrorDetails, ExpressionErrorKind, WorkflowProblem } from './errors'
export { loadWorkflow, loadWorkflowFile } from './workflow/load'
export type { LoadOptions } from './workflow/load'
export { parseDuration } from './workflow/duration'
export type { Backoff, RetryPolicy, TaskDefinition, Transition, WithItems, WorkflowDefinition } from './workflow/model'
export { Engine } from './engine/engine'
export type { ActionOptions, CreditStats, EngineOptions, EngineStats, ResumeOptions, RunInfo, StartOptions } from './engine/engine'
export type { Credit, LedgerEntry } from './engine/accounts'
export { InsufficientBalanceError, MeteringError } from './engine/metering'
export type { Cost, MeteringOptions } from './engine/metering'
export type { EventRecord, Logger, RunRecord, StoreStats, TaskRecord } from './store/store'
export type { ReadOptions, RunFilter } from './store/read'
export { Worker } from './queue/worker'
export type { WorkerStats } from './queue/worker'
export type { Enqueued, EnqueueOptions, ResultOptions, WorkOptions } from './queue/options'
export type { CancelOutcome } from './queue/cancel'
export { Run, RunFailedError, RunStoppedError } from './engine/run'
export type { CancelPolicy, Durability, RunStats, RunStatus } from './engine/run'
export type { RunView } from './engine/run-lifecycle'
export type { ExecutionStatus } from './engine/run-types'
export type { Action, ActionContext } from './engine/attempt'
export { builtinActions, BUILTIN_ACTION_NAMES } from './actions'
export type { BuiltinOptions } from './actions'
export { isTaskEvent } from './engine/events'
export type {
  EventBase,
  InsufficientBalanceEvent,
  ItemCompletedEvent,
  ItemStartedEvent,
  RunCancelledEvent,
  RunEvent,
  RunEventType,
  RunFailedEvent,
  RunResumedEvent,
  RunStartedEvent,
  RunSucceededEvent,
  RunTimedOutEvent,
  RunLeaseLostEvent,
  TaskEvent,
  TaskEventBase,
  TaskFailedEvent,
  TaskItemsEvent,
  TaskLogEvent,
  TaskRetryingEvent,
  TaskStartedEvent,
  TaskSucceededEvent,
  TaskTimedOutEvent,
} from './engine/events'
export type { Failure } from './engine/failure'
