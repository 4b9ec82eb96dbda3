/**
 * Validates a workflow definition and compiles its templates, collecting
 * every problem (with its path and a hint) instead of stopping at the first.
 */
import { hintFor } from './hints'
import { KIND_KEYS, validateKind } from './task-kind'
import { ExpressionError } from '../errors'
import { compile, compileCondition, JsonTemplate, type Template } from '../template'
import { DURATION_HINT, parseDuration } from './duration'
import {
  DEFAULT_CONCURRENCY,
  DEFAULT_STEP_LIMIT,
  RESERVED_TARGETS,
  type Backoff,
  type RetryPolicy,
  type TaskDefinition,
  type Transition,
  type WorkflowDefinition,
} from './model'
import { buildFlow } from './flow'
import { definitionIdentity, type DefinitionIdentity } from './version'
import { compileInputSchema } from './input'
import { checkReferences, type CompiledAt } from './references'
import { didYouMean } from './suggest'
import { validateCache } from './task-cache'

export type Path = ReadonlyArray<string | number>

export interface Problem {
  path: Path
  message: string
  hint?: string
  /** The problem is the key itself (an unknown key), not its value. */
  atKey?: boolean
}

export interface ValidateOptions {
  /** Registered action names; when given, an unknown action is a problem. */
  actions?: Iterable<string>
  /** Built-in action names: without `actions`, a name in their namespaces (`http.gte`) that is none of them is a problem. */
  builtins?: readonly string[]
}

const TOP_KEYS = ['name', 'description', 'input', 'vars', 'tasks', 'start', 'output', 'step_limit']
const TASK_KEYS = [...KIND_KEYS, 'cache', 'description', 'input', 'with', 'timeout', 'retry', 'next', 'join', 'continue_on_error']
const WITH_KEYS = ['items', 'concurrency']
const RETRY_KEYS = ['count', 'delay', 'backoff', 'max_delay', 'jitter', 'when']
const NEXT_KEYS = ['when', 'publish', 'do']
const BACKOFFS: Backoff[] = ['constant', 'linear', 'exponential']
const MAX_TASKS = 65_535
const TASK_NAME = /^[A-Za-z_][A-Za-z0-9_-]*$/

type Obj = Record<string, unknown>
const isObject = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v)
const isPositiveInt = (v: unknown): v is number => Number.isInteger(v) && (v as number) > 0

class Checker {
  readonly problems: Problem[] = []
  /** Every template compiled, for the checks of what they read by name. */
  readonly compiled: CompiledAt[] = []

  add(path: Path, message: string, hint?: string, atKey = false): void {
    // every problem says what right looks like
    const problem: Problem = { path, message, hint: hint ?? hintFor(path) }
    if (atKey) problem.atKey = true
    this.problems.push(problem)
  }

  keys(value: Obj, path: Path, allowed: string[], what: string): void {
    for (const key of Object.keys(value)) {
      if (!allowed.includes(key)) this.add([...path, key], `unknown ${what} key '${key}'`, didYouMean(key, allowed) ?? `expected one of ${allowed.join(', ')}`, true)
    }
  }

  template(source: unknown, path: Path, kind: 'value' | 'condition' | 'json'): Template | JsonTemplate | undefined {
    try {
      let template: Template | JsonTemplate
      if (kind === 'json') template = new JsonTemplate(source)
      else if (typeof source !== 'string') {
        this.add(path, `expected a template string, got ${describe(source)}`)
        return undefined
      } else template = kind === 'condition' ? compileCondition(source) : compile(source)
      this.compiled.push({ path, template })
      return template
    } catch (error) {
      if (!(error instanceof ExpressionError)) throw error
      const inner = error.path ? error.path.split(/\.(?![^[]*\])/) : []
      const where = error.line !== undefined ? ` (template line ${error.line}, column ${error.column ?? '?'})` : ''
      this.add([...path, ...inner], `${error.kind} error in template: ${error.detail}${where}`, `template: ${error.template.slice(0, 120)}`)
      return undefined
    }
  }

  duration(value: unknown, path: Path): number | undefined {
    const parsed = parseDuration(value)
    if (typeof parsed === 'number') return parsed
    this.add(path, parsed.problem, DURATION_HINT)
    return undefined
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'a list'
  return typeof value === 'object' ? 'an object' : `${typeof value} ${JSON.stringify(value)}`
}

/** Every problem, and the compiled definition when there are none. */
export function validate(raw: unknown, options: ValidateOptions = {}): { problems: Problem[]; workflow?: WorkflowDefinition } {
  const c = new Checker()
  // an iterable may be single-use (a Map's keys()): read it once
  if (options.actions) options = { ...options, actions: [...options.actions] }
  if (!isObject(raw)) {
    c.add([], `a workflow must be an object with 'name' and 'tasks', got ${describe(raw)}`)
    return { problems: c.problems }
  }
  c.keys(raw, [], TOP_KEYS, 'workflow')
  if (typeof raw.name !== 'string' || raw.name.trim() === '') c.add(['name'], "the workflow needs a 'name' (a non-empty string)")
  const input = validateInputSpec(c, raw.input)
  const vars: WorkflowDefinition['vars'] = []
  if (raw.vars !== undefined) {
    if (!isObject(raw.vars)) c.add(['vars'], `'vars' must be an object of name: value, got ${describe(raw.vars)}`)
    else for (const [name, value] of Object.entries(raw.vars)) {
      const template = c.template(value, ['vars', name], 'json')
      if (template) vars.push({ name, value: template as JsonTemplate })
    }
  }

  const tasks = new Map<string, TaskDefinition>()
  const names = isObject(raw.tasks) ? Object.keys(raw.tasks) : []
  if (!isObject(raw.tasks) || names.length === 0) {
    c.add(['tasks'], "the workflow needs 'tasks': an object with at least one task")
  } else {
    // the engine packs a task's index in 16 bits (see CompleteOp in crates/arcflow-node/src/run.rs)
    if (names.length > MAX_TASKS) c.add(['tasks'], `a workflow has at most ${MAX_TASKS} tasks, this one has ${names.length}`)
    for (const name of names) {
      const task = validateTask(c, name, raw.tasks[name], names, options)
      if (task) tasks.set(name, task)
    }
  }

  const inbound = new Map<string, number>()
  for (const task of tasks.values()) for (const t of task.next) for (const target of t.do) inbound.set(target, (inbound.get(target) ?? 0) + 1)
  for (const task of tasks.values()) {
    if (typeof task.join === 'number' && task.join > (inbound.get(task.name) ?? 0)) {
      c.add(['tasks', task.name, 'join'], `join ${task.join} waits for more transitions than lead to '${task.name}' (${inbound.get(task.name) ?? 0})`)
    }
  }

  let start: string[] = []
  if (raw.start !== undefined) {
    const list = typeof raw.start === 'string' ? [raw.start] : raw.start
    if (!Array.isArray(list) || list.length === 0) c.add(['start'], "'start' must be a task name or a non-empty list of task names")
    else list.forEach((name, i) => {
      if (typeof name === 'string' && names.includes(name)) start.push(name)
      else c.add(['start', i], `unknown task ${JSON.stringify(name)}`, typeof name === 'string' ? didYouMean(name, names) : undefined)
    })
  } else if (names.length > 0) {
    start = names.filter((n) => !inbound.has(n))
    if (start.length === 0) c.add(['tasks'], 'every task has an inbound transition, so the run has nowhere to start', "add 'start: [TASK]'")
  }

  const output = raw.output === undefined ? undefined : (c.template(raw.output, ['output'], 'json') as JsonTemplate | undefined)
  let stepLimit = DEFAULT_STEP_LIMIT
  if (raw.step_limit !== undefined) {
    if (isPositiveInt(raw.step_limit) && (raw.step_limit as number) <= MAX_STEP_LIMIT) stepLimit = raw.step_limit as number
    else c.add(['step_limit'], `'step_limit' must be an integer from 1 to ${MAX_STEP_LIMIT}, got ${describe(raw.step_limit)}`)
  }

  const declared = new Set(vars.map((v) => v.name))
  if (isObject(raw.vars)) for (const name of Object.keys(raw.vars)) declared.add(name)
  for (const task of tasks.values()) for (const t of task.next) for (const { name } of t.publish) declared.add(name)
  checkReferences((path, message, hint) => c.add(path, message, hint), c.compiled, names, declared)

  let identity: DefinitionIdentity | undefined
  try {
    identity = definitionIdentity(raw)
  } catch (error) {
    c.add([], (error as Error).message)
  }
  if (c.problems.length > 0 || !identity) return { problems: c.problems }
  const taskList = [...tasks.values()]
  taskList.forEach((task, index) => (task.index = index))
  const base: Parameters<typeof buildFlow>[0] = { name: raw.name as string, input, vars, tasks, start, stepLimit, ...identity }
  if (typeof raw.description === 'string') base.description = raw.description
  if (output) base.output = output
  const workflow: WorkflowDefinition = {
    ...base,
    taskList,
    flow: buildFlow(base),
  }
  return { problems: [], workflow }
}

function validateInputSpec(c: Checker, spec: unknown): WorkflowDefinition['input'] {
  if (spec === undefined) return undefined
  if (Array.isArray(spec)) {
    const names: string[] = []
    spec.forEach((name, i) => {
      if (typeof name !== 'string' || name === '') c.add(['input', i], `input names must be non-empty strings, got ${describe(name)}`)
      else if (names.includes(name)) c.add(['input', i], `duplicate input name '${name}'`)
      else names.push(name)
    })
    return { names }
  }
  if (isObject(spec)) {
    const check = compileInputSchema(spec)
    if (typeof check === 'string') {
      c.add(['input'], `'input' is not a valid JSON Schema: ${check}`)
      return undefined
    }
    return { schema: spec, check }
  }
  c.add(['input'], `'input' must be a list of names or a JSON Schema object, got ${describe(spec)}`)
  return undefined
}

function validateTask(c: Checker, name: string, raw: unknown, names: string[], options: ValidateOptions): TaskDefinition | undefined {
  const path = ['tasks', name]
  if (!TASK_NAME.test(name) || (RESERVED_TARGETS as readonly string[]).includes(name)) {
    c.add(path, `invalid task name '${name}'`, "use letters, digits, '_' and '-', starting with a letter or '_'; 'fail' and 'noop' are reserved")
  }
  if (!isObject(raw)) {
    c.add(path, `a task must be an object with an 'action', 'workflow', 'wait' or 'sleep', got ${describe(raw)}`)
    return undefined
  }
  c.keys(raw, path, TASK_KEYS, 'task')
  const task: TaskDefinition = { name, index: -1, kind: 'action', action: '', next: [], continueOnError: false }
  if (raw.input !== undefined) task.input = c.template(raw.input, [...path, 'input'], 'json') as JsonTemplate | undefined
  if (raw.with !== undefined) {
    const w = raw.with
    if (!isObject(w)) c.add([...path, 'with'], `'with' must be an object with 'items', got ${describe(w)}`)
    else {
      c.keys(w, [...path, 'with'], WITH_KEYS, 'with')
      let concurrency = DEFAULT_CONCURRENCY
      if (w.concurrency !== undefined) {
        if (isPositiveInt(w.concurrency)) concurrency = w.concurrency
        else c.add([...path, 'with', 'concurrency'], `'concurrency' must be a positive integer, got ${describe(w.concurrency)}`)
      }
      if (w.items === undefined) c.add([...path, 'with', 'items'], "'with' needs 'items': a template or a list")
      else {
        const items = c.template(w.items, [...path, 'with', 'items'], typeof w.items === 'string' ? 'value' : 'json')
        if (items) task.with = { items, concurrency }
      }
    }
  }
  validateKind(c, raw, path, task, { actions: options.actions as string[] | undefined, builtins: options.builtins })
  if (raw.cache !== undefined) task.cache = validateCache(c, raw.cache, [...path, 'cache'], task)
  // waits all wait at once unless a concurrency is given
  if (task.kind === 'wait' && task.with && (raw.with as Obj).concurrency === undefined) task.with.concurrency = Number.MAX_SAFE_INTEGER
  if (raw.timeout !== undefined && (task.kind === 'action' || task.kind === 'workflow')) task.timeoutMs = c.duration(raw.timeout, [...path, 'timeout'])
  if (raw.retry !== undefined) task.retry = validateRetry(c, raw.retry, [...path, 'retry'])
  if (raw.join !== undefined) {
    if (raw.join === 'all' || isPositiveInt(raw.join)) task.join = raw.join
    else c.add([...path, 'join'], `'join' must be 'all' or a positive integer, got ${describe(raw.join)}`)
  }
  if (raw.continue_on_error !== undefined) {
    if (typeof raw.continue_on_error === 'boolean') task.continueOnError = raw.continue_on_error
    else c.add([...path, 'continue_on_error'], `'continue_on_error' must be true or false, got ${describe(raw.continue_on_error)}`)
  }
  if (raw.next !== undefined) {
    const entries = Array.isArray(raw.next) ? raw.next : [raw.next]
    entries.forEach((entry, i) => {
      const transition = validateTransition(c, entry, Array.isArray(raw.next) ? [...path, 'next', i] : [...path, 'next'], names)
      if (transition) task.next.push(transition)
    })
  }
  return task
}

/** Task executions per run at most: a task's activation number travels packed into 20 bits. */
export const MAX_STEP_LIMIT = 1_000_000

/** Retries per task at most: attempt numbers travel packed into 16 bits (journal and ledger keys). */
export const MAX_RETRIES = 10_000

function validateRetry(c: Checker, raw: unknown, path: Path): RetryPolicy | undefined {
  if (isPositiveInt(raw) && (raw as number) > MAX_RETRIES) {
    c.add(path, `at most ${MAX_RETRIES} retries, got ${raw as number}`)
    return undefined
  }
  if (isPositiveInt(raw) || raw === 0) return { count: raw as number, delayMs: 0, backoff: 'constant', maxDelayMs: Infinity, jitter: 0 }
  if (!isObject(raw)) {
    c.add(path, `'retry' must be a number of retries or an object, got ${describe(raw)}`)
    return undefined
  }
  c.keys(raw, path, RETRY_KEYS, 'retry')
  const policy: RetryPolicy = { count: 0, delayMs: 0, backoff: 'constant', maxDelayMs: Infinity, jitter: 0 }
  if (Number.isInteger(raw.count) && (raw.count as number) >= 0 && (raw.count as number) <= MAX_RETRIES) policy.count = raw.count as number
  else c.add([...path, 'count'], `'count' must be an integer from 0 to ${MAX_RETRIES}, got ${describe(raw.count)}`)
  if (raw.delay !== undefined) policy.delayMs = c.duration(raw.delay, [...path, 'delay']) ?? 0
  if (raw.max_delay !== undefined) policy.maxDelayMs = c.duration(raw.max_delay, [...path, 'max_delay']) ?? Infinity
  if (raw.backoff !== undefined) {
    if (BACKOFFS.includes(raw.backoff as Backoff)) policy.backoff = raw.backoff as Backoff
    else c.add([...path, 'backoff'], `unknown backoff ${JSON.stringify(raw.backoff)}`, didYouMean(String(raw.backoff), BACKOFFS) ?? `expected one of ${BACKOFFS.join(', ')}`)
  }
  if (raw.jitter !== undefined) {
    if (typeof raw.jitter === 'boolean') policy.jitter = raw.jitter ? 1 : 0
    else if (typeof raw.jitter === 'number' && raw.jitter >= 0 && raw.jitter <= 1) policy.jitter = raw.jitter
    else c.add([...path, 'jitter'], `'jitter' must be true, false or a fraction from 0 to 1, got ${describe(raw.jitter)}`)
  }
  if (raw.when !== undefined) policy.when = c.template(raw.when, [...path, 'when'], 'condition') as Template | undefined
  return policy
}

function validateTransition(c: Checker, raw: unknown, path: Path, names: string[]): Transition | undefined {
  if (!isObject(raw)) {
    c.add(path, `a transition must be an object with 'when', 'publish' and/or 'do', got ${describe(raw)}`)
    return undefined
  }
  c.keys(raw, path, NEXT_KEYS, 'transition')
  const transition: Transition = { publish: [], do: [] }
  if (raw.when !== undefined) transition.when = c.template(raw.when, [...path, 'when'], 'condition') as Template | undefined
  if (raw.publish !== undefined) {
    if (!isObject(raw.publish)) c.add([...path, 'publish'], `'publish' must be an object of name: value, got ${describe(raw.publish)}`)
    else for (const [name, value] of Object.entries(raw.publish)) {
      const template = c.template(value, [...path, 'publish', name], 'json') as JsonTemplate | undefined
      if (template) transition.publish.push({ name, value: template })
    }
  }
  if (raw.do !== undefined) {
    const targets = Array.isArray(raw.do) ? raw.do : [raw.do]
    targets.forEach((target, i) => {
      const at = Array.isArray(raw.do) ? [...path, 'do', i] : [...path, 'do']
      if (typeof target !== 'string') c.add(at, `'do' names tasks, 'fail' or 'noop', got ${describe(target)}`)
      else if (names.includes(target) || (RESERVED_TARGETS as readonly string[]).includes(target)) transition.do.push(target)
      else c.add(at, `unknown task '${target}'`, didYouMean(target, [...names, ...RESERVED_TARGETS]))
    })
  }
  return transition
}
