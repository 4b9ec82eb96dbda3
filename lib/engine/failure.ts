/**
 * What a handler threw, whatever it was (an Error, a string, an object,
 * undefined), as plain data that templates (`error()`) and events can carry.
 */
export interface Failure {
  name: string
  message: string
  stack?: string
  code?: string
  cause?: Failure
}

const MAX_CAUSE_DEPTH = 8

export function toFailure(thrown: unknown, depth = 0): Failure {
  if (thrown instanceof Error) {
    const failure: Failure = { name: thrown.name, message: thrown.message }
    if (thrown.stack) failure.stack = thrown.stack
    const code = (thrown as { code?: unknown }).code
    if (typeof code === 'string') failure.code = code
    if (thrown.cause !== undefined && depth < MAX_CAUSE_DEPTH) failure.cause = toFailure(thrown.cause, depth + 1)
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

/** Rebuilds an `Error` (with its cause chain) from a failure, for `cause`. */
export function toError(failure: Failure): Error {
  const error = new Error(failure.message, failure.cause ? { cause: toError(failure.cause) } : undefined)
  error.name = failure.name
  if (failure.stack) error.stack = failure.stack
  if (failure.code) (error as Error & { code?: string }).code = failure.code
  return error
}
