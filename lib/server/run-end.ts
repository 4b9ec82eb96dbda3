/** How a run ended, as the server answers it: its status and its output, or its error as data. */
import type { RunEvent } from '../engine/events'
import type { RunStatus } from '../engine/run'
import { publicError } from './public'

export interface RunEnd {
  runId: string
  status: RunStatus
  output?: unknown
  /** A failed run's error (no stack). */
  error?: unknown
}

const END_TYPES = new Set(['run.succeeded', 'run.failed', 'run.cancelled', 'run.timed_out'])

export const isEndEvent = (event: RunEvent): boolean => END_TYPES.has(event.type)

export function endOf(event: RunEvent): RunEnd | undefined {
  switch (event.type) {
    case 'run.succeeded':
      return { runId: event.runId, status: 'succeeded', output: event.output }
    case 'run.failed':
      return { runId: event.runId, status: 'failed', error: publicError(event.error) }
    case 'run.cancelled':
      return { runId: event.runId, status: 'cancelled' }
    case 'run.timed_out':
      return { runId: event.runId, status: 'timed_out' }
    default:
      return undefined
  }
}

/** A stable JSON text of a value (keys sorted): two requests' bodies compared. */
export function canonical(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'undefined'
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`
  const keys = Object.keys(value).sort()
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`).join(',')}}`
}
