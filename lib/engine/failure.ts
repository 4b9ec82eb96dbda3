/**
 * What a handler threw, whatever it was (an Error, a string, an object,
 * undefined), as plain data that templates (`error()`) and events can carry.
 */
import { ArcflowError, errorClassOf } from '../errors'

export interface Failure {
  name: string
  message: string
  stack?: string
  code?: string
  cause?: Failure
  /** An arcflow error's own fields (`account`, `needed`, `problems`...), so that it is rebuilt whole. */
  details?: Record<string, unknown>
}

const STANDARD_KEYS = new Set(['name', 'message', 'stack', 'code', 'cause'])

/** An arcflow error's own fields that are workflow data (a failure is JSON: anything else is left out). */
function detailsOf(error: ArcflowError): Record<string, unknown> | undefined {
  let details: Record<string, unknown> | undefined
  for (const key of Object.keys(error)) {
    if (STANDARD_KEYS.has(key)) continue
    const value = (error as unknown as Record<string, unknown>)[key]
    if (value === undefined || typeof value === 'function') continue
    try {
      (details ??= {})[key] = JSON.parse(JSON.stringify(value)) as unknown
    } catch {
      // a BigInt or a cycle: not data
    }
  }
  return details
}

const MAX_CAUSE_DEPTH = 8

export function toFailure(thrown: unknown, depth = 0): Failure {
  if (thrown instanceof Error) {
    const failure: Failure = { name: thrown.name, message: thrown.message }
    if (thrown.stack) failure.stack = thrown.stack
    const code = (thrown as { code?: unknown }).code
    if (typeof code === 'string') failure.code = code
    if (thrown.cause !== undefined && depth < MAX_CAUSE_DEPTH) failure.cause = toFailure(thrown.cause, depth + 1)
    if (thrown instanceof ArcflowError) {
      const details = detailsOf(thrown)
      if (details) failure.details = details
    }
    return failure
  }
  if (typeof thrown === 'string') return { name: 'Error', message: thrown }
  if (thrown === undefined || thrown === null) return { name: 'Error', message: `handler threw ${String(thrown)}` }
  if (typeof thrown === 'object') {
    const { name, message } = thrown as { name?: unknown; message?: unknown }
    let text: string
    try {
      text = typeof message === 'string' ? message : JSON.stringify(thrown)
    } catch {
      text = Object.prototype.toString.call(thrown)
    }
    return { name: typeof name === 'string' ? name : 'Error', message: text }
  }
  return { name: 'Error', message: String(thrown) }
}

/**
 * Rebuilds an `Error` (with its cause chain) from a failure, for `cause`. A
 * failure with an arcflow code is an instance of that code's class again
 * (`cause instanceof InsufficientBalanceError`), with its fields, though it
 * crossed the core or the journal as data.
 *
 * @example
 * toError({ name: 'StoreError', code: 'ARCFLOW_STORE', message: 'disk full' }) instanceof StoreError // true
 */
export function toError(failure: Failure): Error {
  const error = new Error(failure.message, failure.cause ? { cause: toError(failure.cause) } : undefined)
  // a real Error (its stack, util.types.isNativeError) given the class's prototype: constructors differ per class
  const cls = failure.code === undefined ? undefined : errorClassOf(failure.code)
  if (cls) {
    Object.setPrototypeOf(error, cls.prototype)
    if (failure.details) Object.assign(error, failure.details)
  }
  error.name = failure.name
  if (failure.stack) error.stack = failure.stack
  if (failure.code) (error as Error & { code?: string }).code = failure.code
  return error
}
