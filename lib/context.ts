/**
 * The shared workflow context: a handle on native state (an `Arc` over
 * concurrent maps). `clone()`, `withItem()` and `withOutcome()` copy
 * pointers only, whatever the context holds; every handle sees the same
 * variables and task results.
 */
import { native } from './binding'
import { fromNative } from './errors'
import type { NativeContext } from './native'
import { cachedJsonTemplate, cachedTemplate, JsonTemplate, Template, type CompileOptions } from './template'
import { decode, encode } from './values'

/** How a task attempt ended, as `succeeded()`, `failed()` and `timed_out()` see it. */
export type OutcomeStatus = 'succeeded' | 'failed' | 'timed_out' | 'cancelled' | 'skipped'

export interface TaskOutcome {
  status: OutcomeStatus
  result?: unknown
  error?: unknown
}

export interface ContextInit {
  /** The run's input (`input` / `parameters` in templates). */
  input?: unknown
  /** Initial variables (`vars` / `ctx`). */
  vars?: Record<string, unknown>
  /** System values (`system`): run id, workflow name, start time, ... */
  system?: Record<string, unknown>
}

/** What {@link WorkflowContext.export} returns and {@link WorkflowContext.import} reads. */
export interface ContextDocument {
  version: 1
  input: unknown
  vars: Record<string, unknown>
  tasks: Record<string, Required<TaskOutcome>>
  system: Record<string, unknown>
  item?: { value: unknown; index: number }
  outcome?: Required<TaskOutcome>
}

const WRAP = Symbol('wrap')

function requireName(name: unknown, what: string): asserts name is string {
  if (typeof name !== 'string' || name.length === 0) {
    throw new TypeError(`${what} must be a non-empty string, got ${name === '' ? 'an empty string' : typeof name}`)
  }
}

/**
 * What a workflow's tasks read: input, variables, task results, system
 * values, and per item `item` / `index`.
 *
 * @example
 * const ctx = new WorkflowContext({ input: { urls: ['a', 'b'] } })
 * ctx.setTaskResult('fetch', { rows: [{ name: 'x' }] })
 * ctx.get('tasks.fetch.result.rows[0].name') // 'x'
 * ctx.render('{{ input.urls | length }}')    // 2
 */
export class WorkflowContext {
  #native: NativeContext

  constructor(init?: ContextInit)
  /** @internal */
  constructor(init: typeof WRAP, handle: NativeContext)
  constructor(init?: ContextInit | typeof WRAP, handle?: NativeContext) {
    if (init === WRAP) {
      this.#native = handle as NativeContext
      return
    }
    try {
      this.#native = new native.NativeContext(init?.input === undefined ? null : encode(init.input, 'input'))
    } catch (error) {
      throw fromNative(error)
    }
    for (const [name, value] of Object.entries(init?.vars ?? {})) this.setVar(name, value)
    for (const [name, value] of Object.entries(init?.system ?? {})) this.setSystem(name, value)
  }

  /**
   * Restores a context from {@link WorkflowContext.export}'s document (or its JSON text).
   *
   * @example
   * const copy = WorkflowContext.import(ctx.export())
   */
  static import(document: ContextDocument | string): WorkflowContext {
    const text = typeof document === 'string' ? document : encode(document, 'context document')
    try {
      return new WorkflowContext(WRAP, native.NativeContext.import(text))
    } catch (error) {
      throw fromNative(error)
    }
  }

  /** A new handle on the same shared state. O(1). */
  clone(): WorkflowContext {
    return new WorkflowContext(WRAP, this.#native.clone())
  }

  /**
   * A handle for one item of a with-items task: `item` and `index` in
   * templates. O(1) in the size of the context.
   *
   * @example
   * ctx.withItem({ id: 7 }, 0).render('{{ item.id }}') // 7
   */
  withItem(item: unknown, index: number): WorkflowContext {
    if (!Number.isInteger(index) || index < 0 || index > 0xffffffff) {
      throw new TypeError(`index must be an integer from 0 to 4294967295, got ${String(index)}`)
    }
    const json = encode(item, 'item')
    try {
      return new WorkflowContext(WRAP, this.#native.withItem(json, index))
    } catch (error) {
      throw fromNative(error)
    }
  }

  /**
   * A handle that carries a task's outcome, for `result()`, `error()`,
   * `succeeded()`, `failed()` and `timed_out()`.
   *
   * @example
   * ctx.withOutcome({ status: 'succeeded', result: 3 }).evaluate('{{ succeeded() and result() > 2 }}') // true
   */
  withOutcome(outcome: TaskOutcome): WorkflowContext {
    if (outcome === null || typeof outcome !== 'object') throw new TypeError('outcome must be an object')
    const result = outcome.result === undefined ? null : encode(outcome.result, 'outcome result')
    const error = outcome.error === undefined ? null : encode(outcome.error, 'outcome error')
    try {
      return new WorkflowContext(WRAP, this.#native.withOutcome(String(outcome.status), result, error))
    } catch (err) {
      throw fromNative(err)
    }
  }

  /** Publishes a variable (`vars.NAME`), seen by every handle of this context. */
  setVar(name: string, value: unknown): void {
    requireName(name, 'variable name')
    const json = encode(value, `variable '${name}'`)
    try {
      this.#native.setVar(name, json)
    } catch (error) {
      throw fromNative(error)
    }
  }

  /** A copy of a variable's value, or `undefined`. */
  getVar(name: string): unknown {
    requireName(name, 'variable name')
    return decode(this.#native.getVar(name))
  }

  /** Sets a system value (`system.NAME`). */
  setSystem(name: string, value: unknown): void {
    requireName(name, 'system name')
    const json = encode(value, `system value '${name}'`)
    try {
      this.#native.setSystem(name, json)
    } catch (error) {
      throw fromNative(error)
    }
  }

  /** Records a task's result (`tasks.NAME.result`, `task('NAME').result`). */
  setTaskResult(task: string, value: unknown): void {
    requireName(task, 'task name')
    const json = encode(value, `result of task '${task}'`)
    try {
      this.#native.setTaskResult(task, json)
    } catch (error) {
      throw fromNative(error)
    }
  }

  /** A copy of a task's result, or `undefined`. */
  getTaskResult(task: string): unknown {
    requireName(task, 'task name')
    return decode(this.#native.getTaskResult(task))
  }

  /**
   * Reads a nested value: `tasks.fetch.result.rows[0].name`, `vars.total`,
   * `item.id`, `vars["a key"]`. A missing value is `undefined`; a malformed
   * path or an unknown first name throws a {@link ContextError}.
   */
  get(path: string): unknown {
    if (typeof path !== 'string') throw new TypeError(`path must be a string, got ${typeof path}`)
    try {
      return decode(this.#native.get(path))
    } catch (error) {
      throw fromNative(error)
    }
  }

  /** The whole context as a JSON-compatible document (keys sorted). */
  export(): ContextDocument {
    try {
      return JSON.parse(this.#native.export()) as ContextDocument
    } catch (error) {
      throw fromNative(error)
    }
  }

  /**
   * Renders a template (a string is compiled once and cached). Exactly one
   * `{{ expr }}` gives a typed value; mixed text gives a string.
   *
   * @example
   * ctx.render('{{ input.urls }}')          // ['a', 'b']
   * ctx.render('{{ input.urls | length }} urls') // '2 urls'
   */
  render(template: string | Template, options?: CompileOptions): unknown {
    const compiled = template instanceof Template ? template : cachedTemplate(template, options?.strict === true, false)
    try {
      if (compiled.kind === 'text') return this.#native.renderText(compiled.native)
      if (compiled.kind === 'literal') return compiled.source
      return JSON.parse(this.#native.render(compiled.native))
    } catch (error) {
      throw fromNative(error)
    }
  }

  /**
   * Renders every string inside a JSON structure, keeping types. A plain
   * object is compiled once and cached by identity.
   *
   * @example
   * ctx.withItem('https://a', 0).renderJson({ url: '{{ item }}', tries: 3 }) // { url: 'https://a', tries: 3 }
   */
  renderJson(value: unknown, options?: CompileOptions): unknown {
    let compiled: JsonTemplate
    if (value instanceof JsonTemplate) compiled = value
    else if (typeof value === 'string') return this.render(value, options)
    else if (value !== null && typeof value === 'object') compiled = cachedJsonTemplate(value, options?.strict === true)
    else return JSON.parse(encode(value, 'value'))
    try {
      return JSON.parse(this.#native.renderJson(compiled.native))
    } catch (error) {
      throw fromNative(error)
    }
  }

  /**
   * Evaluates a condition to a boolean, with Jinja truthiness: `false`,
   * `null`, undefined (lenient mode), `0`, `''`, `[]` and `{}` are false,
   * everything else is true. Accepts `{{ expr }}` or a bare expression.
   *
   * @example
   * ctx.evaluate('{{ vars.total > 10 }}')
   * ctx.evaluate('vars.total > 10')
   */
  evaluate(condition: string | Template, options?: CompileOptions): boolean {
    const compiled =
      condition instanceof Template ? condition : cachedTemplate(condition, options?.strict === true, true)
    try {
      return this.#native.evaluate(compiled.native)
    } catch (error) {
      throw fromNative(error)
    }
  }
}
