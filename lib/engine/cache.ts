/**
 * The task result cache (`cache: { key, ttl }` on an action task): a
 * result kept under (workflow, task, rendered key) is used instead of
 * running the action until it expires. In memory, a bounded LRU
 * (`lru-cache`: well kept, with per-entry TTLs, which is what this needs).
 * With a store, the store holds it (shared by every engine and process on
 * the database) and the LRU is a read-through layer in front: a miss is
 * read off the JS thread (`cacheGet`), never blocking it. Only successful
 * results are kept.
 */
import { LRUCache } from 'lru-cache'

import { fromNativeData, InputError } from '../errors'
import type { DurableStore } from '../store/store'
import { encode } from '../values'
import type { WorkflowContext } from '../context'
import type { TaskDefinition, WorkflowDefinition } from '../workflow/model'
import type { Action, ActionContext } from './attempt'
import type { RunEvent } from './events'

/** Entries the in-memory layer keeps at most (documented in the README). */
export const CACHE_ENTRIES = 10_000

/** A cached result; `leftMs`: what the store said it had left, by its clock (an entry read from it). */
type Entry = { value: unknown; leftMs?: number }

function lruKey(workflow: string, task: string, key: string): string {
  return JSON.stringify([workflow, task, key])
}

/**
 * `engine.cache`: clears what the task result cache holds.
 *
 * @example
 * await engine.cache.clear({ workflow: 'summaries', task: 'summarize' })
 */
export class TaskResultCache {
  readonly #lru = new LRUCache<string, Entry>({ max: CACHE_ENTRIES })
  readonly #store: DurableStore | undefined
  /** Hits and misses of the in-memory layer and of the store behind it. */
  readonly stats = { hits: 0, storeHits: 0, misses: 0 }

  /** @internal */
  constructor(store: DurableStore | undefined) {
    this.#store = store
  }

  /** @internal The cached result, or undefined (a miss); a store read only when memory misses. */
  get(workflow: string, task: string, key: string): Entry | undefined | Promise<Entry | undefined> {
    const found = this.#lru.get(lruKey(workflow, task, key))
    if (found) {
      this.stats.hits++
      return found
    }
    if (!this.#store) {
      this.stats.misses++
      return undefined
    }
    // expiry is the store's clock (the database's on PostgreSQL), not this process's
    return this.#store.native.cacheGet(workflow, task, key).then((text) => {
      const answer = JSON.parse(text) as { ok: [unknown, number] | null } | { error: Parameters<typeof fromNativeData>[0] }
      if ('error' in answer) throw fromNativeData(answer.error)
      if (answer.ok === null) {
        this.stats.misses++
        return undefined
      }
      this.stats.storeHits++
      return { value: answer.ok[0], leftMs: answer.ok[1] }
    })
  }

  /** @internal Keeps a successful result (JSON text `payload`). */
  put(workflow: string, task: string, key: string, value: unknown, payload: string, ttlMs: number): void {
    this.#lru.set(lruKey(workflow, task, key), { value }, { ttl: ttlMs })
    this.#store?.native.cachePut(workflow, task, key, payload, ttlMs)
  }

  /** @internal Puts what the store answered into the in-memory layer, until the store's expiry. */
  remember(workflow: string, task: string, key: string, entry: Entry): void {
    const ttl = entry.leftMs ?? 0
    if (ttl > 0) this.#lru.set(lruKey(workflow, task, key), entry, { ttl })
  }

  /**
   * Drops cached results: of one task of a workflow, of every task of it,
   * or (no argument) all of them, in memory and in the store. Resolves once
   * the store has committed the change (at once in memory).
   *
   * @example
   * await engine.cache.clear({ workflow: 'summaries' })
   */
  async clear(what: { workflow?: string; task?: string } = {}): Promise<void> {
    if (what === null || typeof what !== 'object') throw new InputError(`cache.clear takes { workflow, task }, got ${String(what)}`)
    const { workflow, task } = what
    for (const [name, value] of [['workflow', workflow], ['task', task]] as const) {
      if (value !== undefined && (typeof value !== 'string' || value === '')) throw new InputError(`cache.clear: ${name} must be a non-empty string, got ${JSON.stringify(value)}`)
    }
    if (task !== undefined && workflow === undefined) throw new InputError('cache.clear: a task is named within its workflow: pass { workflow, task }')
    if (workflow === undefined) this.#lru.clear()
    else {
      for (const k of [...this.#lru.keys()]) {
        const [w, t] = JSON.parse(k) as [string, string]
        if (w === workflow && (task === undefined || t === task)) this.#lru.delete(k)
      }
    }
    if (this.#store) await this.#store.committed(this.#store.native.cacheClear(workflow ?? null, task ?? null))
  }
}

/** What a cached action needs of its run. */
export interface CachingRun {
  readonly context: WorkflowContext
  emit(event: RunEvent): void
}

/**
 * The action of a task with `cache`: renders its key, answers a cached
 * result without running `action` (the attempt charges nothing, the task
 * emits `task.cached`), else runs it and keeps a successful result.
 */
export function cachedAction(cache: TaskResultCache, workflow: WorkflowDefinition, task: TaskDefinition, action: Action, runOf: (id: string) => CachingRun | undefined): Action {
  const spec = task.cache!
  return (input: unknown, ctx: ActionContext) => {
    const run = runOf(ctx.runId)
    if (!run) return action(input, ctx)
    const context = ctx.index === undefined ? run.context : run.context.withItem(ctx.item, ctx.index)
    const key = encode(context.renderJson(spec.key), `cache key of task '${task.name}'`)
    const hit = (entry: Entry): unknown => {
      ctx.charge(0)
      const e = { type: 'task.cached', runId: ctx.runId, time: Date.now(), task: task.name, attempt: ctx.attempt, key } as RunEvent & { index?: number }
      if (ctx.index !== undefined) e.index = ctx.index
      run.emit(e)
      return entry.value
    }
    const miss = async (): Promise<unknown> => {
      const result = await action(input, ctx)
      let payload: string | undefined
      try {
        payload = encode(result, `result of task '${task.name}'`)
      } catch {
        // not workflow data: the attempt fails on it anyway, nothing is kept
      }
      if (payload !== undefined) cache.put(workflow.name, task.name, key, result, payload, spec.ttlMs)
      return result
    }
    const found = cache.get(workflow.name, task.name, key)
    if (found === undefined) return miss()
    if (!(found instanceof Promise)) return hit(found)
    return found.then((entry) => {
      if (!entry) return miss()
      cache.remember(workflow.name, task.name, key, entry)
      return hit(entry)
    })
  }
}
