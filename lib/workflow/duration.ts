/**
 * Durations in workflow files: `250ms`, `5s`, `2m`, `1h`, `1.5s`, or a
 * number of milliseconds; from 0 to 2^53 - 1 ms (the engine's timers keep
 * any of them, see `engine/timers.ts`).
 */
/** The longest duration arcflow accepts: 2^53 - 1 ms (about 285,000 years). */
export const MAX_DURATION_MS = Number.MAX_SAFE_INTEGER

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }

/**
 * Milliseconds, or a message saying what is wrong.
 *
 * @example
 * parseDuration('1.5s') // 1500
 * parseDuration(-1)     // { problem: 'a duration must be ...' }
 */
export function parseDuration(value: unknown): number | { problem: string } {
  let ms: number | undefined
  if (typeof value === 'number') ms = value
  else if (typeof value === 'string') {
    const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)\s*$/.exec(value)
    if (match) ms = Number(match[1]) * UNITS[match[2]]
  }
  if (ms === undefined) return { problem: `invalid duration ${JSON.stringify(value)}` }
  // NaN fails both comparisons
  if (!(ms >= 0 && ms <= MAX_DURATION_MS)) return { problem: `a duration must be from 0 to ${MAX_DURATION_MS} ms, got ${typeof value === 'string' ? JSON.stringify(value) : String(value)}` }
  return ms
}

export const DURATION_HINT = "use a number of milliseconds or a string like '250ms', '5s', '2m', '1h'"
