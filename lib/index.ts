/**
 * arcflow: a workflow runtime for Node.js services with a Rust core.
 *
 * @example
 * import { WorkflowContext, compile } from 'arcflow'
 * const ctx = new WorkflowContext({ input: { name: 'Ada' } })
 * ctx.render(compile('Hello {{ input.name }}!')) // 'Hello Ada!'
 */
export { WorkflowContext } from './context'
export type { ContextDocument, ContextInit, OutcomeStatus, TaskOutcome } from './context'
export { compile, compileCondition, JsonTemplate, Template } from './template'
export type { CompileOptions, TemplateKind } from './template'
export {
  ArcflowError,
  ContextError,
  ExpressionError,
  InternalError,
  NativeBindingError,
  ValueError,
} from './errors'
export type { ExpressionErrorDetails, ExpressionErrorKind } from './errors'
