/**
 * `engine.cancel`: cancels a run whichever process holds it. A run live in
 * this engine is cancelled here; otherwise the request goes through the
 * database: a queued run ends `cancelled` before it starts, a running one
 * is recorded for the worker holding it, which hears of it by the same
 * wake-ups as claims (`hub.ts`) and cancels it with that policy.
 */
import { QueueError } from '../errors'
import type { CancelPolicy } from '../engine/run-types'
import type { QueueHost } from './host'
import { checkCancel } from './options'

/** What `engine.cancel` did. */
export type CancelOutcome =
  /** Cancelled now: it was queued, or live in this engine. */
  | { outcome: 'cancelled' }
  /** Running in a worker, which was asked to cancel it (`engine.result` tells when it has). */
  | { outcome: 'forwarded' }
  /** It had ended already, with `status`. */
  | { outcome: 'ended'; status: string }

export async function cancel(host: QueueHost, runId: string, options?: { policy?: CancelPolicy }): Promise<CancelOutcome> {
  host.open()
  const policy = checkCancel(runId, options)
  const live = host.live(runId)
  if (live) {
    await live.cancel({ policy })
    return { outcome: 'cancelled' }
  }
  const hub = host.hub()
  const answer = await hub.client.requestCancel(runId, policy)
  switch (answer.asked) {
    case 'cancelled':
      hub.emit('ended', [runId])
      return { outcome: 'cancelled' }
    case 'forwarded':
      // a worker of this process (another engine) hears it at once; others by the database's notice
      hub.emit('cancel', [runId])
      return { outcome: 'forwarded' }
    case 'ended':
      return { outcome: 'ended', status: answer.status }
    case 'unknown':
      throw new QueueError(`cannot cancel run ${JSON.stringify(runId)}: no such run in the store`)
  }
}
