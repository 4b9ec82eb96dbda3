/**
 * Durations in workflow files: `250ms`, `5s`, `2m`, `1h`, `1.5s`, or a
 * number of milliseconds.
 */
const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }

/** Milliseconds, or a message saying what is wrong. */
export function parseDuration(value: unknown): number | { problem: string } {
  if (typeof value === 'number') {
    return Number.isFinite(value) && value >= 0 ? value : { problem: `a duration must be a non-negative number of milliseconds, got ${value}` }
  }
  if (typeof value === 'string') {
    const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)\s*$/.exec(value)
    if (match) return Number(match[1]) * UNITS[match[2]]
  }
  return { problem: `invalid duration ${JSON.stringify(value)}`, }
}

export const DURATION_HINT = "use a number of milliseconds or a string like '250ms', '5s', '2m', '1h'"
