/**
 * Which kind a task is: exactly one of the kind keys (`action`,
 * `workflow`, `wait`, `sleep`; a missing one or two together is a load
 * error at the task's path), and the kind's own settings. Whether a
 * `workflow` task's workflow is loaded is the engine's check (at load, for
 * cycles, and when a run starts). A `wait`'s input is `{ signal }`
 * and a `sleep`'s `{ until }`, rendered by the core like any task input
 * (per item for a with-items wait).
 */
import type { JsonTemplate, Template } from '../template'
import { unknownAction } from './known-actions'
import type { TaskDefinition } from './model'

type Path = ReadonlyArray<string | number>
type Obj = Record<string, unknown>

/** The keys that make a task of a kind, in the order messages list them. */
export const KIND_KEYS = ['action', 'workflow', 'wait', 'sleep'] as const

/** What this module needs of the validator's checker. */
export interface KindChecker {
  add(path: Path, message: string, hint?: string): void
  keys(value: Obj, path: Path, allowed: string[], what: string): void
  template(source: unknown, path: Path, kind: 'value' | 'condition' | 'json'): Template | JsonTemplate | undefined
  duration(value: unknown, path: Path): number | undefined
}

const WAIT_KEYS = ['signal', 'timeout']
const SLEEP_KEYS = ['until']
const isObject = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v)

/** Sets `task.kind` and its settings from `raw` (problems go to `c`). */
export function validateKind(c: KindChecker, raw: Obj, path: Path, task: TaskDefinition, options: { actions?: string[]; builtins?: readonly string[] }): void {
  const present = KIND_KEYS.filter((key) => raw[key] !== undefined)
  const one = `a task has exactly one of ${KIND_KEYS.map((k) => `'${k}'`).join(', ')}`
  if (present.length === 0) {
    c.add([...path, 'action'], `task '${task.name}' needs an 'action' (the name of a registered action), a 'workflow' (the name of a loaded workflow), or a 'wait' or 'sleep'`, one)
    return
  }
  if (present.length > 1) {
    c.add([...path, present[1]!], `task '${task.name}' has both '${present[0]}' and '${present[1]}'`, one)
    return
  }
  const kind = present[0]!
  task.kind = kind
  if (kind === 'action') return action(c, raw, path, task, options)
  if (kind === 'workflow') return workflow(c, raw, path, task)
  if (raw.input !== undefined) c.add([...path, 'input'], `a ${kind} task takes no 'input'`, kind === 'wait' ? "the signal's payload is the task's result" : "'sleep: { until }' renders its time from the context")
  if (raw.timeout !== undefined) c.add([...path, 'timeout'], `a ${kind} task takes no 'timeout'`, kind === 'wait' ? "use 'wait: { signal, timeout }'" : 'a sleep ends when its time comes')
  if (kind === 'wait') wait(c, raw.wait, [...path, 'wait'], task)
  else sleep(c, raw.sleep, [...path, 'sleep'], task)
}

function action(c: KindChecker, raw: Obj, path: Path, task: TaskDefinition, options: { actions?: string[]; builtins?: readonly string[] }): void {
  if (typeof raw.action !== 'string' || raw.action === '') {
    c.add([...path, 'action'], `task '${task.name}' needs an 'action' (the name of a registered action)`)
    return
  }
  task.action = raw.action
  const unknown = unknownAction(raw.action, { actions: options.actions, builtins: options.builtins })
  if (unknown) c.add([...path, 'action'], unknown.message, unknown.hint)
}

const WORKFLOW_NAME = /^\S+$/

/** `workflow: NAME`: a child run of a loaded workflow (`lib/engine/subflows.ts`). */
function workflow(c: KindChecker, raw: Obj, path: Path, task: TaskDefinition): void {
  if (typeof raw.workflow !== 'string' || !WORKFLOW_NAME.test(raw.workflow)) {
    return c.add([...path, 'workflow'], `'workflow' must name a loaded workflow, got ${JSON.stringify(raw.workflow)}`)
  }
  task.workflow = raw.workflow
}

function wait(c: KindChecker, raw: unknown, path: Path, task: TaskDefinition): void {
  if (typeof raw === 'string') raw = { signal: raw }
  if (!isObject(raw)) return c.add(path, "'wait' must be a signal name or an object { signal, timeout }")
  c.keys(raw, path, WAIT_KEYS, 'wait')
  task.wait = { signal: typeof raw.signal === 'string' ? raw.signal : '' }
  if (typeof raw.signal !== 'string' || raw.signal === '') c.add([...path, 'signal'], "'wait' needs 'signal': the signal's name (a template, rendered per item)")
  else task.input = c.template({ signal: raw.signal }, path, 'json') as JsonTemplate | undefined
  if (raw.timeout !== undefined) task.wait.timeoutMs = c.duration(raw.timeout, [...path, 'timeout'])
}

function sleep(c: KindChecker, raw: unknown, path: Path, task: TaskDefinition): void {
  if (task.with !== undefined) c.add([...path.slice(0, -1), 'with'], "a 'sleep' task takes no 'with'", 'sleep once, before or after the items')
  if (isObject(raw)) {
    c.keys(raw, path, SLEEP_KEYS, 'sleep')
    task.sleep = { until: raw.until }
    if (raw.until === undefined) c.add([...path, 'until'], "'sleep' needs a duration or { until: TIME }", "until: an ISO time or epoch ms, e.g. '{{ vars.not_before }}'")
    else task.input = c.template({ until: raw.until }, path, 'json') as JsonTemplate | undefined
    return
  }
  task.sleep = { ms: c.duration(raw, path) ?? 0 }
}
