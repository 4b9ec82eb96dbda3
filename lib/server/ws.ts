/**
 * `GET /v1/ws`: one WebSocket carrying many runs. Frames are JSON objects
 * with a `type` and the client's `ref` (echoed back); every answer names
 * its `runId`.
 *
 *   client → server: start { workflow, input, idempotencyKey?, account?, durability?, events? }
 *                    subscribe { runId, after? } · unsubscribe { runId } · cancel { runId, policy? } · signal { runId, name, payload? }
 *   server → client: started { runId, status, created } · event { runId, seq, event }
 *                    result { runId, status, output?, error? } · error { runId, error: { code, message, path? } }
 *                    signalled { runId, name } (the signal is kept for the run)
 *
 * `start` answers `started`, then `result` when the run ends (with
 * `events: true`, its events in between). A socket whose unsent data
 * passes `bufferBytes` is closed (code 1008): the engine never waits for it.
 */
import { setMaxListeners } from 'node:events'
import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { WebSocketServer, type RawData, type WebSocket } from 'ws'

import type { RunEvent } from '../engine/events'
import { resultFrame, startedFrame } from './frames'
import { WAITING, type RunHub, type Started, type Subscriber } from './hub'
import { badRequest, problemOf, ProblemError } from './problems'
import { publicEvent } from './public'
import type { RunEnd } from './run-end'
import { parseCancelPolicy, parseSignalBody, parseStartRequest } from './start-request'

const START_EXTRA = new Set(['type', 'ref', 'events'])
const SIGNAL_EXTRA = new Set(['type', 'ref', 'runId', 'name'])

export interface SocketOptions {
  bufferBytes: number
  maxFrameBytes: number
}

export class Sockets {
  readonly #wss: WebSocketServer
  readonly #hub: RunHub
  readonly #bufferBytes: number
  readonly #open = new Set<Connection>()

  constructor(hub: RunHub, options: SocketOptions) {
    this.#hub = hub
    this.#bufferBytes = options.bufferBytes
    // one frame at most maxFrameBytes (a bigger one closes the socket, 1009); no compression: it costs more than loopback saves
    this.#wss = new WebSocketServer({ noServer: true, maxPayload: options.maxFrameBytes, perMessageDeflate: false, clientTracking: false })
  }

  get size(): number {
    return this.#open.size
  }

  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    this.#wss.handleUpgrade(req, socket, head, (ws) => {
      const connection = new Connection(ws, socket, this.#hub, this.#bufferBytes)
      this.#open.add(connection)
      ws.on('close', () => {
        this.#open.delete(connection)
        connection.closed()
      })
    })
  }

  /** Shutdown: each subscription gets a final `error` frame, then the socket closes (1001). */
  closeAll(): void {
    for (const connection of this.#open) connection.shutdown()
  }
}

class Connection {
  readonly #ws: WebSocket
  /** The upgraded socket under `#ws`: corked for a turn of the event loop while frames are sent (see `#send`). */
  readonly #socket: Duplex
  #corked = false
  /** Made once, not per turn. */
  readonly #uncork = (): void => {
    this.#corked = false
    this.#socket.uncork()
  }
  readonly #hub: RunHub
  readonly #bufferBytes: number
  /** This socket's subscription per run. */
  readonly #subs = new Map<string, Subscriber>()
  readonly #gone = new AbortController()
  /** The result waits of runs the hub holds, and their run (a closed socket stops waiting). */
  readonly #waits = new Map<(end: RunEnd) => void, string>()

  constructor(ws: WebSocket, socket: Duplex, hub: RunHub, bufferBytes: number) {
    this.#ws = ws
    this.#socket = socket
    this.#hub = hub
    this.#bufferBytes = bufferBytes
    // one listener per run this socket waits for (64 in flight is normal), not a leak
    setMaxListeners(0, this.#gone.signal)
    ws.on('message', (data, binary) => this.#message(data, binary))
    ws.on('error', () => ws.terminate())
  }

  closed(): void {
    this.#gone.abort()
    for (const [wake, runId] of this.#waits) this.#hub.offEnd(runId, wake)
    this.#waits.clear()
    for (const [runId, sub] of this.#subs) this.#hub.unsubscribe(runId, sub)
    this.#subs.clear()
  }

  shutdown(): void {
    for (const runId of this.#subs.keys()) this.#send(JSON.stringify({ type: 'error', ref: null, runId, error: { code: 'ARCFLOW_SHUTTING_DOWN', message: 'the server is shutting down' } }))
    this.closed()
    this.#ws.close(1001, 'server shutting down')
  }

  /** `text`: a frame's JSON. false once the socket is closed or over its buffer cap (then closed). */
  #send(text: string): boolean {
    if (this.#ws.readyState !== this.#ws.OPEN) return false
    // the frames of one turn of the event loop leave in one write: a run that
    // ends at once sends `started` and `result` together (one syscall, one
    // wake-up of the client), and a burst of events goes as one
    if (!this.#corked) {
      this.#corked = true
      this.#socket.cork()
      setImmediate(this.#uncork)
    }
    this.#ws.send(text)
    if (this.#ws.bufferedAmount > this.#bufferBytes) {
      this.#ws.close(1008, 'the client does not read fast enough')
      // a peer that does not read does not answer the close either
      this.#ws.terminate()
      return false
    }
    return true
  }

  #fail(ref: unknown, runId: string | null, error: unknown): void {
    this.#send(JSON.stringify({ type: 'error', ref, runId, error: problemOf(error).problem }))
  }

  #message(data: RawData, binary: boolean): void {
    let frame: Record<string, unknown>
    try {
      if (binary) throw badRequest('frames are JSON text')
      const parsed: unknown = JSON.parse(data.toString())
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw badRequest('a frame must be a JSON object', 'frame')
      frame = parsed as Record<string, unknown>
    } catch (error) {
      this.#fail(null, null, error instanceof ProblemError ? error : badRequest(`the frame is not valid JSON: ${(error as Error).message}`, 'frame'))
      return
    }
    const ref = frame.ref ?? null
    const runId = typeof frame.runId === 'string' ? frame.runId : null
    if (frame.type === 'start') {
      // the frame of every run: no async function, no promise unless the start has a key
      try {
        const starting = this.#hub.start(parseStartRequest(frame, 'frame', START_EXTRA))
        if (!(starting instanceof Promise)) return void this.#started(frame, ref, starting)?.catch((error: unknown) => this.#fail(ref, runId, error))
        starting.then((started) => this.#started(frame, ref, started)).catch((error: unknown) => this.#fail(ref, runId, error))
      } catch (error) {
        this.#fail(ref, runId, error)
      }
      return
    }
    this.#handle(frame, ref, runId).catch((error: unknown) => this.#fail(ref, runId, error))
  }

  /** `started`, then the run's events (`events: true`) or its `result`. */
  #started(frame: Record<string, unknown>, ref: unknown, started: Started): Promise<void> | undefined {
    this.#send(startedFrame(ref, started))
    if (frame.events === true) return this.#subscribe(ref, started.runId, 0)
    return this.#result(ref, started.runId)
  }

  async #handle(frame: Record<string, unknown>, ref: unknown, runId: string | null): Promise<void> {
    switch (frame.type) {
      case 'subscribe': {
        const after = frame.after ?? 0
        if (typeof after !== 'number' || !Number.isSafeInteger(after) || after < 0) throw badRequest('after must be an event sequence number', 'frame.after')
        return this.#subscribe(ref, need(runId), after)
      }
      case 'unsubscribe': {
        const id = need(runId)
        const sub = this.#subs.get(id)
        if (sub) this.#hub.unsubscribe(id, sub)
        this.#subs.delete(id)
        return
      }
      case 'cancel': {
        const id = need(runId)
        await this.#hub.cancel(id, parseCancelPolicy({ policy: frame.policy }, 'frame'))
        return this.#result(ref, id)
      }
      case 'signal': {
        const id = need(runId)
        if (typeof frame.name !== 'string' || frame.name === '') throw badRequest("a signal's name must be a non-empty string", 'frame.name')
        await this.#hub.signal(id, frame.name, parseSignalBody(frame, 'frame', SIGNAL_EXTRA))
        this.#send(JSON.stringify({ type: 'signalled', ref, runId: id, name: frame.name }))
        return
      }
      default:
        throw badRequest(`unknown frame type ${JSON.stringify(frame.type)} (expected start, subscribe, unsubscribe, cancel or signal)`, 'frame.type')
    }
  }

  #result(ref: unknown, runId: string): Promise<void> | undefined {
    const wake = (end: RunEnd): void => {
      this.#waits.delete(wake)
      this.#send(resultFrame(ref, end))
    }
    const held = this.#hub.onEnd(runId, wake)
    if (held === WAITING) {
      this.#waits.set(wake, runId)
      return undefined
    }
    if (held) return void this.#send(resultFrame(ref, held))
    return this.#hub.waitEnd(runId, this.#gone.signal).then((end) => void (end && this.#send(resultFrame(ref, end))))
  }

  async #subscribe(ref: unknown, runId: string, after: number): Promise<void> {
    const source = await this.#hub.source(runId)
    const previous = this.#subs.get(runId)
    if (previous) this.#hub.unsubscribe(runId, previous)
    const sub: Subscriber = {
      event: (seq: number, event: RunEvent): boolean => this.#subs.get(runId) === sub && this.#send(JSON.stringify({ type: 'event', ref, runId, seq, event: publicEvent(event) })),
      end: (end: RunEnd): void => {
        if (this.#subs.get(runId) !== sub) return
        this.#subs.delete(runId)
        this.#send(resultFrame(ref, end))
      },
    }
    this.#subs.set(runId, sub)
    source.attach(after, sub)
  }
}

function need(runId: string | null): string {
  if (runId === null || runId === '') throw badRequest('runId must be a run id', 'frame.runId')
  return runId
}
