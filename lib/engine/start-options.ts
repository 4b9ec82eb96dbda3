/**
 * The checks of `start` and `resume` options, all made before anything is
 * written: a bad option is an `InputError` listing each problem, and no
 * run, journal row or reservation is left behind.
 */
import { MAX_DURATION_MS } from '../workflow/duration'
import { wellFormed } from '../values'

const DURABILITIES = ['none', 'batched', 'sync']

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value)
  if (value === null || typeof value !== 'object') return String(value)
  return Array.isArray(value) ? 'a list' : 'an object'
}


/**
 * What is wrong with a run id: a non-empty string of valid Unicode;
 * undefined when nothing is.
 *
 * @example
 * runIdProblem('\uD800') // 'options.runId: must be valid Unicode ...'
 */
export function runIdProblem(runId: unknown, where = 'options.runId'): string | undefined {
  if (typeof runId !== 'string' || runId === '') return `${where}: must be a non-empty string, got ${describe(runId)}`
  if (!wellFormed(runId)) return `${where}: must be valid Unicode (it holds a lone UTF-16 surrogate, which the store cannot keep apart from other ids)`
  return undefined
}

/**
 * Every problem with the options of `start` (or, `resume: true`, of
 * `resume`), each as `options.KEY: what is wrong`.
 *
 * @example
 * startOptionProblems({ signal: {} }) // ['options.signal: must be an AbortSignal, got an object']
 */
export function startOptionProblems(options: unknown, resume = false): string[] {
  if (options === undefined) return []
  if (options === null || typeof options !== 'object') return [`options: must be an object, got ${describe(options)}`]
  const o = options as Record<string, unknown>
  const problems: string[] = []
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) problems.push(`options.signal: must be an AbortSignal, got ${describe(o.signal)}`)
  const timeout = o.timeout
  // Infinity: no timeout
  if (timeout !== undefined && !(typeof timeout === 'number' && timeout >= 0 && (timeout <= MAX_DURATION_MS || timeout === Infinity))) {
    problems.push(`options.timeout: must be a number of milliseconds from 0 to ${MAX_DURATION_MS} (or Infinity for none), got ${describe(timeout)}`)
  }
  const durabilities = resume ? DURABILITIES.slice(1) : DURABILITIES
  if (o.durability !== undefined && !durabilities.includes(o.durability as string)) {
    problems.push(`options.durability: must be ${durabilities.map((d) => `'${d}'`).join(', ')}, got ${describe(o.durability)}`)
  }
  if (!resume) {
    if (o.account !== undefined && (typeof o.account !== 'string' || o.account === '')) problems.push(`options.account: must be a non-empty string, got ${describe(o.account)}`)
    if (o.runId !== undefined) {
      const problem = runIdProblem(o.runId)
      if (problem) problems.push(problem)
    }
    if (o.idempotencyKey !== undefined) {
      const problem = runIdProblem(o.idempotencyKey, 'options.idempotencyKey')
      if (problem) problems.push(problem)
      if (o.runId !== undefined) problems.push('options.idempotencyKey: give a key or a runId, not both (a key names the run it started)')
    }
  }
  return problems
}
