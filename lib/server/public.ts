/**
 * What leaves the server: run data with every `stack` removed from the
 * errors in it (a failure keeps its name, message, code and cause, never
 * where in the server's code it was thrown).
 */
import type { RunEvent } from '../engine/events'

/** A copy of an error value without `stack`, through its causes. */
export function publicError(error: unknown, depth = 0): unknown {
  if (error === null || typeof error !== 'object' || Array.isArray(error) || depth > 16) return error
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(error)) {
    if (key === 'stack') continue
    out[key] = key === 'cause' ? publicError(value, depth + 1) : value
  }
  return out
}

/** An event as clients see it (only events carrying an error are copied). */
export function publicEvent(event: RunEvent): RunEvent {
  return 'error' in event ? ({ ...event, error: publicError(event.error) } as RunEvent) : event
}
