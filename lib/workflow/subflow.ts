/**
 * The loader's part of issue 14 (beside `validate.ts`): a `workflow: NAME`
 * task (a sub-workflow, run as a child run by the engine) and an action
 * task's `cache: { key, ttl }`. Whether the named workflow is loaded is
 * the engine's check (at load, for cycles, and when a run starts).
 */
import type { JsonTemplate, Template } from '../template'
import type { TaskCache, TaskDefinition } from './model'

type Path = ReadonlyArray<string | number>

/** What these checks need of the loader's checker. */
export interface KindChecker {
  add(path: Path, message: string, hint?: string): void
  keys(value: Record<string, unknown>, path: Path, allowed: string[], what: string): void
  template(source: unknown, path: Path, kind: 'value' | 'condition' | 'json'): Template | JsonTemplate | undefined
  duration(value: unknown, path: Path): number | undefined
}

/** A cached result is kept this long unless `ttl` says otherwise (documented in the README). */
export const DEFAULT_CACHE_TTL_MS = 60 * 60 * 1000
const CACHE_KEYS = ['key', 'ttl']
const WORKFLOW_NAME = /^\S+$/

/** `workflow: NAME` (a task has either it or `action`, never both). */
export function validateWorkflowKind(c: KindChecker, raw: Record<string, unknown>, path: Path, task: TaskDefinition): void {
  if (raw.action !== undefined) {
    c.add(path, `task '${task.name}' has both 'action' and 'workflow': a task has exactly one of them`)
    return
  }
  if (typeof raw.workflow !== 'string' || !WORKFLOW_NAME.test(raw.workflow)) {
    c.add([...path, 'workflow'], `'workflow' must name a loaded workflow, got ${JSON.stringify(raw.workflow)}`)
    return
  }
  task.kind = 'workflow'
  task.workflow = raw.workflow
}

/** `cache: { key, ttl }` on an action task. */
export function validateCache(c: KindChecker, raw: unknown, path: Path, task: TaskDefinition): TaskCache | undefined {
  if (task.kind !== 'action') {
    c.add(path, `'cache' applies to action tasks only (task '${task.name}' runs a workflow)`)
    return undefined
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    c.add(path, `'cache' must be an object with 'key' (a template) and 'ttl' (a duration)`)
    return undefined
  }
  const o = raw as Record<string, unknown>
  c.keys(o, path, CACHE_KEYS, 'cache')
  if (o.key === undefined) {
    c.add([...path, 'key'], "'cache' needs a 'key': a template of what makes a result reusable, such as \"{{ input.doc_id }}\"")
    return undefined
  }
  const key = c.template(o.key, [...path, 'key'], typeof o.key === 'string' ? 'value' : 'json')
  const ttlMs = o.ttl === undefined ? DEFAULT_CACHE_TTL_MS : c.duration(o.ttl, [...path, 'ttl'])
  if (!key || ttlMs === undefined) return undefined
  return { key, ttlMs }
}
