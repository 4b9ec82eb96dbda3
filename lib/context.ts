/**
 * The shared workflow context. A run's state (input, variables, task
 * results, system values) lives natively, behind an `Arc` over concurrent
 * maps, once per run. A `WorkflowContext` is a light JavaScript handle on
 * it plus per-branch state (the current item and task outcome), so
 * `clone()`, `withItem()` and `withOutcome()` copy pointers only and never
 * cross into native code; a read sends the handle's frame along in the
 * same call, and the native side builds the per-item view in O(1).
 */
import { native } from './binding'
import { fromNative } from './errors'
import type { NativeContext } from './native'
import { cachedJsonTemplate, cachedTemplate, JsonTemplate, Template, type CompileOptions } from './template'
import { decode, encode } from './values'

/** How a task attempt ended, as `succeeded()`, `failed()` and `timed_out()` see it. */
export type OutcomeStatus = 'succeeded' | 'failed' | 'timed_out' | 'cancelled' | 'skipped'

const OUTCOME_STATUSES: readonly unknown[] = ['succeeded', 'failed', 'timed_out', 'cancelled', 'skipped']

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

/** Per-branch state of a handle; JSON text is encoded on first use and kept. */
interface Frame {
  hasItem: boolean
  item: unknown
  itemJson: string | null
  index: number
  outcome: TaskOutcome | undefined
  outcomeJson: string | null
}

const NO_FRAME: Frame = Object.freeze({ hasItem: false, item: undefined, itemJson: null, index: 0, outcome: undefined, outcomeJson: null })

function itemJson(frame: Frame): string | null {
  if (!frame.hasItem) return null
  return (frame.itemJson ??= encode(frame.item, 'item'))
}

function outcomeJson(frame: Frame): string | null {
  if (frame.outcome === undefined) return null
  return (frame.outcomeJson ??= encode(frame.outcome, 'outcome'))
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
  #frame: Frame

  constructor(init?: ContextInit)
  /** @internal */
  constructor(init: typeof WRAP, handle: NativeContext, frame: Frame)
  constructor(init?: ContextInit | typeof WRAP, handle?: NativeContext, frame?: Frame) {
    if (init === WRAP) {
      this.#native = handle as NativeContext
      this.#frame = frame as Frame
      return
    }
    this.#frame = NO_FRAME
    try {
      this.#native = new native.NativeContext(
        init?.input === undefined ? null : encode(init.input, 'input'),
        init?.system === undefined ? null : encode(init.system, 'system values'),
      )
    } catch (error) {
      throw fromNative(error)
    }
    for (const [name, value] of Object.entries(init?.vars ?? {})) this.setVar(name, value)
  }

  /** @internal A handle on a native context (a run's). */
  static fromNative(handle: NativeContext): WorkflowContext {
    return new WorkflowContext(WRAP, handle, NO_FRAME)
  }

  /**
   * Restores a context from {@link WorkflowContext.export}'s document (or its JSON text).
   *
   * @example
   * const copy = WorkflowContext.import(ctx.export())
   */
  static import(document: ContextDocument | string): WorkflowContext {
    const text = typeof document === 'string' ? document : encode(document, 'context document', Infinity)
    let handle: NativeContext
    let imported: Pick<ContextDocument, 'item' | 'outcome'>
    try {
      handle = native.NativeContext.import(text)
      imported = JSON.parse(handle.takeImportedFrame()) as Pick<ContextDocument, 'item' | 'outcome'>
    } catch (error) {
      throw fromNative(error)
    }
    let ctx = new WorkflowContext(WRAP, handle, NO_FRAME)
    if (imported.item) ctx = ctx.withItem(imported.item.value, imported.item.index)
    if (imported.outcome) ctx = ctx.withOutcome(imported.outcome)
    return ctx
  }

  /** A new handle on the same shared state, with the same item and outcome. O(1), no native call. */
  clone(): WorkflowContext {
    return new WorkflowContext(WRAP, this.#native, this.#frame)
  }

  /**
   * A handle for one item of a with-items task: `item` and `index` in
   * templates. O(1) whatever the context holds, and no native call: the
   * item is encoded once, when the handle is first read through.
   *
   * @example
   * ctx.withItem({ id: 7 }, 0).render('{{ item.id }}') // 7
   */
  withItem(item: unknown, index: number): WorkflowContext {
    if (!Number.isInteger(index) || index < 0 || index > 0xffffffff) {
      throw new TypeError(`index must be an integer from 0 to 4294967295, got ${String(index)}`)
    }
    const frame = this.#frame
    return new WorkflowContext(WRAP, this.#native, {
      hasItem: true,
      item,
      itemJson: null,
      index,
      outcome: frame.outcome,
      outcomeJson: frame.outcomeJson,
    })
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
    if (!OUTCOME_STATUSES.includes(outcome.status)) {
      throw new TypeError(`unknown outcome status ${JSON.stringify(outcome.status)}: expected ${OUTCOME_STATUSES.join(', ')}`)
    }
    const { status, result = null, error = null } = outcome
    return new WorkflowContext(WRAP, this.#native, { ...this.#frame, outcome: { status, result, error }, outcomeJson: null })
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

  /**
   * Records a task's outcome: `tasks.NAME.status`, `.result` and `.error`.
   *
   * @example
   * ctx.setTaskOutcome('fetch', { status: 'failed', error: { message: 'boom' } })
   */
  setTaskOutcome(task: string, outcome: TaskOutcome): void {
    requireName(task, 'task name')
    if (outcome === null || typeof outcome !== 'object' || !OUTCOME_STATUSES.includes(outcome.status)) {
      throw new TypeError(`outcome must be { status, result?, error? } with status one of ${OUTCOME_STATUSES.join(', ')}`)
    }
    const { status, result = null, error = null } = outcome
    const json = encode({ status, result, error }, `outcome of task '${task}'`)
    try {
      this.#native.setTaskOutcome(task, json)
    } catch (err) {
      throw fromNative(err)
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
    const frame = this.#frame
    try {
      return decode(this.#native.get(path, itemJson(frame), frame.index, outcomeJson(frame)))
    } catch (error) {
      throw fromNative(error)
    }
  }

  /** The whole context, this handle's item and outcome included, as a JSON-compatible document (keys sorted). */
  export(): ContextDocument {
    const frame = this.#frame
    try {
      return JSON.parse(this.#native.export(itemJson(frame), frame.index, outcomeJson(frame))) as ContextDocument
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
    if (compiled.kind === 'literal') return compiled.source
    const frame = this.#frame
    try {
      if (compiled.kind === 'text') {
        return this.#native.renderText(compiled.native, itemJson(frame), frame.index, outcomeJson(frame))
      }
      return JSON.parse(this.#native.render(compiled.native, itemJson(frame), frame.index, outcomeJson(frame)))
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
    const frame = this.#frame
    try {
      return JSON.parse(this.#native.renderJson(compiled.native, itemJson(frame), frame.index, outcomeJson(frame)))
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
    const frame = this.#frame
    try {
      return this.#native.evaluate(compiled.native, itemJson(frame), frame.index, outcomeJson(frame))
    } catch (error) {
      throw fromNative(error)
    }
  }
}
