/**
 * `GET /v1/runs/:id/events`: Server-Sent Events, one per run event, `id:`
 * its sequence number. A reconnect with `Last-Event-ID: N` (or `?after=N`)
 * gets the events after N, then the live ones. The stream ends with an
 * `end` event (`{ runId, status, output?, error? }`, or `reason:
 * 'shutdown'` when the server stops). A client whose unread data passes
 * `bufferBytes` is disconnected: it reconnects with its last id and loses
 * nothing.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'

import type { RunEvent } from '../engine/events'
import type { RunHub, Subscriber } from './hub'
import { badRequest } from './problems'
import { publicEvent } from './public'
import type { RunEnd } from './run-end'

/** Open event streams, for shutdown's final frame. */
export type Streams = Set<{ close(reason: string): void }>

/** The cursor a (re)connecting client gives: `Last-Event-ID` or `?after=`. */
export function afterOf(req: IncomingMessage, url: URL): number {
  const raw = req.headers['last-event-id'] ?? url.searchParams.get('after') ?? '0'
  const n = Number(raw)
  if (!Number.isSafeInteger(n) || n < 0) throw badRequest(`Last-Event-ID must be an event's sequence number, got ${JSON.stringify(raw)}`, 'Last-Event-ID')
  return n
}

export async function serveEvents(hub: RunHub, runId: string, req: IncomingMessage, res: ServerResponse, url: URL, options: { bufferBytes: number; heartbeatMs: number; streams: Streams }): Promise<void> {
  const after = afterOf(req, url)
  const source = await hub.source(runId)
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' })
  res.socket?.setNoDelay(true)
  // the client reconnects after 1 s when the connection drops
  res.write('retry: 1000\n\n')
  let open = true
  const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), options.heartbeatMs)
  heartbeat.unref()
  const handle = {
    close(reason: string): void {
      if (!open) return
      finish(`event: end\ndata: ${JSON.stringify({ runId, reason })}\n\n`)
    },
  }
  const finish = (last: string | undefined): void => {
    open = false
    clearInterval(heartbeat)
    options.streams.delete(handle)
    hub.unsubscribe(runId, sub)
    if (last !== undefined && !res.destroyed) res.end(last)
  }
  const sub: Subscriber = {
    event(seq: number, event: RunEvent): boolean {
      if (!open || res.destroyed) return false
      res.write(`id: ${seq}\ndata: ${JSON.stringify(publicEvent(event))}\n\n`)
      if (res.writableLength > options.bufferBytes) {
        // it does not read: drop it rather than hold the run's events for it
        finish(undefined)
        res.destroy()
        return false
      }
      return true
    },
    end(end: RunEnd): void {
      if (open) finish(`event: end\ndata: ${JSON.stringify({ ...end, reason: end.status === 'running' ? 'not_live' : 'ended' })}\n\n`)
    },
  }
  res.on('close', () => {
    if (open) finish(undefined)
  })
  options.streams.add(handle)
  source.attach(after, sub)
}
