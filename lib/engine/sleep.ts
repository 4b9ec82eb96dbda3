/**
 * A `sleep` task: ends, with its due time (ISO text) as its result, when
 * that time comes: `sleep: 10m` counts from when the activation began
 * (journaled, so a resumed run sleeps only for what is left), `sleep: {
 * until }` renders the time itself (ISO text or epoch ms). Its due time is
 * an entry of the shared deadline heap (see `wait.ts` `TimedRun`).
 */
import { ValueError } from '../errors'
import { InputKind } from './protocol'
import { TimedRun } from './wait'

/** Epoch ms of a rendered `until`, or undefined when it is no time. */
export function untilMs(until: unknown): number | undefined {
  const ms = typeof until === 'number' ? until : typeof until === 'string' ? Date.parse(until) : NaN
  return Number.isFinite(ms) ? ms : undefined
}

/** ISO text of `ms`, or the number as text past the range a `Date` holds. */
function iso(ms: number): string {
  return Math.abs(ms) <= 8.64e15 ? new Date(ms).toISOString() : String(ms)
}

export class SleepRun extends TimedRun {
  override begin(attempt: number, index: number, kind: InputKind, value: unknown): void {
    if (kind !== InputKind.Rendered && kind !== InputKind.None) return super.begin(attempt, index, kind, value)
    const startedAt = this.began(attempt)
    const parked = this.parked('', attempt, index, startedAt)
    const { ms } = this.task.sleep!
    let due: number | undefined = startedAt + (ms ?? 0)
    if (ms === undefined) {
      const until = (value as { until?: unknown } | null)?.until
      due = untilMs(until)
      if (due === undefined) {
        this.park(parked, undefined)
        const error = new ValueError(`task '${this.task.name}': 'until' must render to an ISO time or epoch milliseconds, got ${JSON.stringify(until) ?? String(until)}`)
        return queueMicrotask(() => void this.ended(parked, 'failed', error))
      }
    }
    this.waitingEvent(attempt, index, { until: iso(due) })
    this.park(parked, due)
  }

  override expired(parked: Parameters<TimedRun['expired']>[0]): void {
    this.ended(parked, 'succeeded', iso(parked.due), false)
  }
}
