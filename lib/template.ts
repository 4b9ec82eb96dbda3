/**
 * Compiled templates. A string that is exactly one `{{ expr }}` evaluates
 * to a typed value (number, object, list, boolean, null); text mixed with
 * expressions renders to a string; a string with no template syntax is
 * returned as it is. Compile once, render many times.
 */
import { native } from './binding'
import { fromNative } from './errors'
import type { NativeJsonTemplate, NativeTemplate } from './native'
import { encode } from './values'

export interface CompileOptions {
  /**
   * Undefined names and attributes are errors instead of `null`.
   * Default `false` (lenient: `vars.missing.deeper` is `null`).
   */
  strict?: boolean
}

/** What a template renders to: its own text, a typed value, or a string. */
export type TemplateKind = 'literal' | 'expression' | 'text'

function requireString(value: unknown, what: string): asserts value is string {
  if (typeof value !== 'string') {
    throw new TypeError(`${what} must be a string, got ${value === null ? 'null' : typeof value}`)
  }
}

/**
 * A compiled template.
 *
 * @example
 * const t = new Template('{{ input.n * 2 }}')
 * t.render(new WorkflowContext({ input: { n: 21 } })) // 42
 */
export class Template {
  /** @internal */
  readonly native: NativeTemplate
  readonly source: string
  readonly kind: TemplateKind
  readonly strict: boolean
  /** True when compiled as a condition (see {@link compileCondition}). */
  readonly condition: boolean

  constructor(source: string, options: CompileOptions & { condition?: boolean } = {}) {
    requireString(source, 'template')
    this.source = source
    this.strict = options.strict === true
    this.condition = options.condition === true
    try {
      this.native = new native.NativeTemplate(source, this.strict, this.condition)
    } catch (error) {
      throw fromNative(error)
    }
    this.kind = this.native.kind as TemplateKind
  }

  /**
   * The tasks (`tasks.NAME`, `task('NAME')` with a literal name) and
   * variables (`vars.NAME`) the template reads by name.
   *
   * @example
   * compile("{{ tasks.fetch.result }} {{ vars.n }}").references() // { path: '', tasks: ['fetch'], vars: ['n'] }
   */
  references(): TemplateReferences {
    return this.native.references()
  }
}

/** What a template reads by name, and where it sits in a {@link JsonTemplate} (`''`: the root). */
export interface TemplateReferences {
  path: string
  tasks: string[]
  vars: string[]
}

/**
 * A JSON structure whose strings may be templates, compiled once: every
 * string inside is rendered, types are kept, keys are not templated.
 *
 * @example
 * const input = new JsonTemplate({ url: '{{ item }}', retries: 3 })
 * ctx.withItem('https://a', 0).renderJson(input) // { url: 'https://a', retries: 3 }
 */
export class JsonTemplate {
  /** @internal */
  readonly native: NativeJsonTemplate
  readonly strict: boolean

  constructor(value: unknown, options: CompileOptions = {}) {
    this.strict = options.strict === true
    const json = encode(value, 'template structure')
    try {
      this.native = new native.NativeJsonTemplate(json, this.strict)
    } catch (error) {
      throw fromNative(error)
    }
  }

  /** True when nothing in the structure is a template. */
  get isStatic(): boolean {
    return this.native.isStatic
  }

  /**
   * What each template in the structure reads by name (see
   * {@link Template.references}), with its path (`url`, `headers.auth`, `items[2]`).
   *
   * @example
   * new JsonTemplate({ total: '{{ vars.sum }}' }).references() // [{ path: 'total', tasks: [], vars: ['sum'] }]
   */
  references(): TemplateReferences[] {
    return this.native.references()
  }
}

/**
 * Compiles a template.
 *
 * @example
 * const greet = compile('Hello {{ input.name }}!')
 * ctx.render(greet) // 'Hello Ada!'
 */
export function compile(source: string, options?: CompileOptions): Template {
  return new Template(source, options)
}

/**
 * Compiles a condition: `{{ expr }}` or a bare expression (`x > 1`). Text
 * around an expression is an error, since it would always be a truthy string.
 *
 * @example
 * ctx.evaluate(compileCondition('{{ vars.total > 10 }}'))
 */
export function compileCondition(source: string, options?: CompileOptions): Template {
  return new Template(source, { ...options, condition: true })
}

const CACHE_SIZE = 1000
const caches = new Map<string, Map<string, Template>>()

/**
 * The compiled template for a source string, from a bounded cache (1,000
 * per kind; cleared when full), so rendering a string repeatedly does not
 * parse it every time.
 * @internal
 */
export function cachedTemplate(source: string, strict: boolean, condition: boolean): Template {
  requireString(source, condition ? 'condition' : 'template')
  const key = `${strict ? 's' : 'l'}${condition ? 'c' : 't'}`
  let cache = caches.get(key)
  if (!cache) caches.set(key, (cache = new Map()))
  let template = cache.get(source)
  if (!template) {
    template = new Template(source, { strict, condition })
    if (cache.size >= CACHE_SIZE) cache.clear()
    cache.set(source, template)
  }
  return template
}

const jsonCache = new WeakMap<object, JsonTemplate>()

/**
 * The compiled JSON template for an object, cached by identity (a
 * workflow's task input is the same object every time it renders).
 * @internal
 */
export function cachedJsonTemplate(value: object, strict: boolean): JsonTemplate {
  const found = jsonCache.get(value)
  if (found && found.strict === strict) return found
  const template = new JsonTemplate(value, { strict })
  jsonCache.set(value, template)
  return template
}
