/**
 * An action task's result cache, `cache: { key, ttl }`, as the loader
 * reads it (the engine's side: `lib/engine/cache.ts`).
 */
import type { TaskCache, TaskDefinition } from './model'
import type { KindChecker } from './task-kind'

type Path = ReadonlyArray<string | number>

/** A cached result is kept this long unless `ttl` says otherwise (documented in the README). */
export const DEFAULT_CACHE_TTL_MS = 60 * 60 * 1000
const CACHE_KEYS = ['key', 'ttl']

/** `cache: { key, ttl }` on an action task. */
export function validateCache(c: KindChecker, raw: unknown, path: Path, task: TaskDefinition): TaskCache | undefined {
  if (task.kind !== 'action') {
    c.add(path, `'cache' applies to action tasks only (task '${task.name}' is a '${task.kind}' task)`)
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
