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

import { native } from '../binding'
import { fromNative, fromNativeData, InputError } from '../errors'
import type { DurableStore } from '../store/store'
import { encode } from '../values'
import { WorkflowContext } from '../context'
import { JsonTemplate, Template } from '../template'
import type { TaskCache, TaskDefinition, WorkflowDefinition } from '../workflow/model'
import type { Action, ActionContext, Attempt } from './attempt'
import type { RunEvent } from './events'

/** Entries the in-memory layer keeps at most (documented in the README). */
export const CACHE_ENTRIES = 10_000

/** A cached result; `payload`: its JSON text (kept here); `leftMs`: what the store said it had left, by its clock (an entry read from it). */
type Entry = { value: unknown; payload?: string; leftMs?: number }

/** Where a result is kept: (workflow, task, rendered key as JSON), and its in-memory layer's key. */
interface CacheSlot {
  readonly workflow: string
  readonly task: string
  readonly key: string
  readonly lru: string
}

/** `prefix`: `JSON.stringify([workflow, task, ` written once per task (the in-memory key is that array with the key). */
function cacheSlot(workflow: string, task: string, key: string, prefix = slotPrefix(workflow, task)): CacheSlot {
  return { workflow, task, key, lru: `${prefix}${JSON.stringify(key)}]` }
}

function slotPrefix(workflow: string, task: string): string {
  return `${JSON.stringify([workflow, task]).slice(0, -1)},`
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
  get(slot: CacheSlot): Entry | undefined | Promise<Entry | undefined> {
    const found = this.#lru.get(slot.lru)
    if (found) {
      this.stats.hits++
      return found
    }
    if (!this.#store) {
      this.stats.misses++
      return undefined
    }
    // expiry is the store's clock (the database's on PostgreSQL), not this process's
    return this.#store.native.cacheGet(slot.workflow, slot.task, slot.key).then((text) => {
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
  put(slot: CacheSlot, value: unknown, payload: string, ttlMs: number): void {
    this.#lru.set(slot.lru, { value, payload }, { ttl: ttlMs })
    this.#store?.native.cachePut(slot.workflow, slot.task, slot.key, payload, ttlMs)
  }

  /** @internal Puts what the store answered into the in-memory layer, until the store's expiry. */
  remember(slot: CacheSlot, entry: Entry): void {
    const ttl = entry.leftMs ?? 0
    if (ttl > 0) this.#lru.set(slot.lru, entry, { ttl })
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
  /** @internal Its state in the native registry: the key renders against its context. */
  readonly handle: number
  crossings: number
  emit(event: RunEvent): void
}

/**
 * The action of a task with `cache`: renders its key, answers a cached
 * result without running `action` (the attempt charges nothing, the task
 * emits `task.cached`), else runs it and keeps a successful result. A key
 * with no template in it is rendered once, here: a hit then costs one
 * in-memory lookup, no call into the core.
 */
export function cachedAction(cache: TaskResultCache, workflow: WorkflowDefinition, task: TaskDefinition, action: Action, runOf: (id: string) => CachingRun | undefined): Action {
  const spec = task.cache!
  const what = `cache key of task '${task.name}'`
  const prefix = slotPrefix(workflow.name, task.name)
  const fixed = isLiteral(spec.key) ? cacheSlot(workflow.name, task.name, encode(literalKey(spec.key), what)) : undefined
  const used = new CacheUse(cache, task.name, action, spec.ttlMs)
  return (input: unknown, ctx: ActionContext) => {
    const run = runOf(ctx.runId)
    if (!run) return action(input, ctx)
    const slot = fixed ?? cacheSlot(workflow.name, task.name, encode(renderKey(run, spec.key, ctx), what), prefix)
    const found = cache.get(slot)
    if (found === undefined) return used.miss(slot, input, ctx)
    if (!(found instanceof Promise)) return used.hit(run, slot, ctx, found)
    return found.then((entry) => {
      if (!entry) return used.miss(slot, input, ctx)
      cache.remember(slot, entry)
      return used.hit(run, slot, ctx, entry)
    })
  }
}

/**
 * The key rendered with the run's context (and the attempt's item), by the
 * run's handle: a `run.context` handle would make a native object per run,
 * several µs, more than a hit's lookup. Parsed and encoded here, so that
 * the key's JSON text is the engine's own (`encode`), as the store keeps it.
 */
function renderKey(run: CachingRun, key: TaskCache['key'], ctx: ActionContext): unknown {
  const item = ctx.index === undefined ? null : encode(ctx.item, 'item')
  run.crossings++
  try {
    return JSON.parse(key instanceof JsonTemplate ? native.runRenderJson(run.handle, key.native, item, ctx.index ?? 0) : native.runRender(run.handle, key.native, item, ctx.index ?? 0))
  } catch (error) {
    throw fromNative(error)
  }
}

/** Whether a key renders to itself: nothing in it reads the run's context. */
function isLiteral(key: TaskCache['key']): boolean {
  return key instanceof JsonTemplate ? key.isStatic : key.kind === 'literal'
}

/** What a literal key renders to (any context would do: it reads none). */
function literalKey(key: TaskCache['key']): unknown {
  return key instanceof JsonTemplate ? new WorkflowContext().renderJson(key) : (key as Template).source
}

/** A cached task's hit and miss: methods, not closures made per attempt. */
class CacheUse {
  constructor(
    readonly cache: TaskResultCache,
    readonly task: string,
    readonly action: Action,
    readonly ttlMs: number,
  ) {}

  hit(run: CachingRun, slot: CacheSlot, ctx: ActionContext, entry: Entry): unknown {
    ctx.charge(0)
    const e = { type: 'task.cached', runId: ctx.runId, time: Date.now(), task: this.task, attempt: ctx.attempt, key: slot.key } as RunEvent & { index?: number }
    if (ctx.index !== undefined) e.index = ctx.index
    run.emit(e)
    // the task's completion takes the text as kept: a large result is not written out again
    ;(ctx as Attempt).payload = entry.payload
    return entry.value
  }

  async miss(slot: CacheSlot, input: unknown, ctx: ActionContext): Promise<unknown> {
    const result = await this.action(input, ctx)
    let payload: string | undefined
    try {
      payload = encode(result, `result of task '${this.task}'`)
    } catch {
      // not workflow data: the attempt fails on it anyway, nothing is kept
    }
    if (payload !== undefined) this.cache.put(slot, result, payload, this.ttlMs)
    return result
  }
}
