/** A workflow as the engine runs it: validated, normalised, templates compiled. */
import type { NativeFlow } from '../native'
import type { InputSpec } from './input'
import type { JsonTemplate, Template } from '../template'

export type Backoff = 'constant' | 'linear' | 'exponential'

export interface RetryPolicy {
  /** Retries after the first attempt. */
  count: number
  delayMs: number
  backoff: Backoff
  maxDelayMs: number
  /** Fraction of each delay randomised away (0 = none, 1 = full jitter). */
  jitter: number
  /** Retry only while this holds (evaluated with the failed attempt's outcome). */
  when?: Template
}

export interface Transition {
  when?: Template
  publish: Array<{ name: string; value: JsonTemplate }>
  /** Task names to schedule; `fail` fails the run, `noop` does nothing. */
  do: string[]
}

export interface WithItems {
  items: Template | JsonTemplate
  concurrency: number
}

/**
 * What a task does: `action` calls a registered action, `workflow` runs a
 * loaded workflow as a child run, `wait` waits for a signal, `sleep` waits
 * until a time. A task has exactly one of these keys.
 */
export type TaskKind = 'action' | 'workflow' | 'wait' | 'sleep'

/** An action task's result cache (`cache: { key, ttl }`). */
export interface TaskCache {
  /** Rendered with the run's context (and the item, with-items): what the result is kept under. */
  key: Template | JsonTemplate
  ttlMs: number
}

/** `wait: { signal, timeout }`: the signal's name renders per activation (per item). */
export interface WaitSpec {
  /** The signal's name as written (a template): the task's input is `{ signal }` rendered from it. */
  signal: string
  timeoutMs?: number
}

/** `sleep: 10m` (`ms`) or `sleep: { until }` (the task's input is `{ until }`). */
export interface SleepSpec {
  ms?: number
  /** `until` as written (the task's input is `{ until }` rendered from it). */
  until?: unknown
}

export interface TaskDefinition {
  name: string
  /** Position in the workflow's task list (and in its native graph). */
  index: number
  kind: TaskKind
  /** The action's name (`action` tasks; empty otherwise). */
  action: string
  /** `workflow` tasks: the name of the workflow the child run runs. */
  workflow?: string
  cache?: TaskCache
  wait?: WaitSpec
  sleep?: SleepSpec
  input?: JsonTemplate
  with?: WithItems
  timeoutMs?: number
  retry?: RetryPolicy
  next: Transition[]
  /** `all`, or how many inbound transitions must fire; undefined: run on each. */
  join?: 'all' | number
  continueOnError: boolean
}

export interface WorkflowDefinition {
  name: string
  description?: string
  /** Required input names, or a JSON Schema for the input. */
  input: InputSpec | undefined
  vars: Array<{ name: string; value: JsonTemplate }>
  tasks: Map<string, TaskDefinition>
  start: string[]
  output?: JsonTemplate
  stepLimit: number
  /**
   * The definition's version: the sha256 (hex) of its normalized JSON
   * (YAML or JSON, spacing and comments do not count; key order does). A
   * durable run records it, and the store keeps each version's definition
   * once, so that `engine.resume` runs a run's own version.
   */
  version: string
  /** @internal The normalized JSON the version hashes (what the store keeps). */
  definition: string
  /** Tasks by index. */
  taskList: TaskDefinition[]
  /** @internal The native task graph, shared by every run. */
  flow: NativeFlow
}

/** Defaults, documented in the README. */
export const DEFAULT_CONCURRENCY = 16
export const DEFAULT_STEP_LIMIT = 10_000
export const RESERVED_TARGETS = ['fail', 'noop'] as const
