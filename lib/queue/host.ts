/**
 * What the queue modules need of the engine (`lib/engine/engine.ts` makes
 * one, with closures over its private state): the engine's run machinery,
 * reached without widening its public surface.
 */
import type { Run } from '../engine/run'
import type { RunEvent } from '../engine/events'
import type { WorkflowDefinition } from '../workflow/model'
import type { DurableStore, StoredRun } from '../store/store'
import type { QueueHub } from './hub'

export interface QueueHost {
  readonly store: DurableStore
  /** This process's hub for the engine's store (opened on first use). */
  hub(): QueueHub
  /** Throws `EngineClosedError` once the engine closes. */
  open(): void
  /** A workflow this engine loaded, by name. */
  workflow(name: string): WorkflowDefinition | undefined
  /** The engine's live run with this id. */
  live(id: string): Run | undefined
  /**
   * Starts a claimed run under its own id (its row exists, `queued` or
   * claimed: the run-id reuse check accepts exactly this case). Throws
   * what `start` throws (bad input, unknown action).
   */
  startClaimed(workflow: WorkflowDefinition, input: unknown, runId: string, account: string | undefined): Run
  /** Resumes a claimed run that was taken over (`engine.resume`'s logic), from `stored`, read beforehand off the JS thread. */
  resumeClaimed(runId: string, stored: StoredRun | undefined): Run
  /** Sees every run's event; answers the function that stops it. */
  listen(listener: (event: RunEvent) => void): () => void
}

/** Adds `listener` to an engine's `listeners`; answers the function that removes it. */
export function subscribe<T>(listeners: T[], listener: T): () => void {
  listeners.push(listener)
  return () => {
    const at = listeners.indexOf(listener)
    if (at >= 0) listeners.splice(at, 1)
  }
}
