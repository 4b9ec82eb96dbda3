/**
 * `createHandler`: the server as a `node:http` request listener plus a
 * WebSocket upgrade handler, to mount in an existing service (Express,
 * Fastify, Hono's node adapter, a bare `http.createServer`).
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'

import type { Engine } from '../engine/engine'
import { ServerError } from '../errors'
import type { WorkflowDefinition } from '../workflow/model'
import { Tokens } from './auth'
import { RunHub } from './hub'
import { Metrics } from './metrics'
import { problemOf, shuttingDown } from './problems'
import { answerError, route, type RouteContext } from './routes'
import type { Streams } from './sse'
import { Waits } from './waits'
import { Sockets } from './ws'

export interface HandlerOptions {
  /** The engine that runs the workflows (its actions registered). */
  engine: Engine
  /** The workflows clients may start, by name (loaded on `engine`). */
  workflows: Iterable<WorkflowDefinition>
  /** Bearer tokens accepted (several allowed). Required unless `auth: false`. */
  tokens?: Iterable<string>
  /** Default true. `false` serves without tokens (`createServer` refuses it off loopback). */
  auth?: boolean
  /** Largest request body and WebSocket frame, in bytes; default 1 MiB (a 413 past it). */
  bodyLimitBytes?: number
  /**
   * Unsent bytes a subscriber (an SSE stream, a WebSocket) may hold before
   * it is disconnected; default 1 MiB. A client that reconnects with its
   * last event id loses nothing.
   */
  subscriberBufferBytes?: number
  /**
   * Ended runs kept in memory for reconnects and `GET` (an engine without a
   * store has no other copy): at most this many, at least the last half of
   * them; default 100. Each kept run that outlives a young-generation
   * collection is copied by it: a window shorter than the runs between two
   * collections costs next to nothing, 1,000 cost a WebSocket start ~13 µs
   * of p50 (see the README).
   */
  recentRuns?: number
  /**
   * In front of workers: runs are enqueued on this queue (`engine.enqueue`)
   * for workers in any process, never run here; their events stream from
   * the store, `wait`, cancels and signals reach them wherever they run
   * (see `queued.ts`; `idempotencyKey` follows `enqueue`'s `key`). Needs
   * the engine's store to be shared: PostgreSQL, or SQLite with `locking=shared`.
   */
  queue?: string
  /** A comment line on idle SSE streams so proxies keep them; default 15,000 ms. */
  heartbeatMs?: number
}

export interface Handler {
  /** `(req, res)`: the HTTP routes. */
  listener(req: IncomingMessage, res: ServerResponse): void
  /** `server.on('upgrade', handler.upgrade)`: `GET /v1/ws`. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void
  /** Starts any run a stopped process left running (its events number on). */
  resumeInterrupted(): Promise<number>
  /**
   * Shutdown, first half: new runs are refused (503), event streams and
   * sockets get a final frame and close, requests waiting for a run answer
   * its status after `graceMs` at most. Resolves once they have.
   */
  drain(graceMs?: number): Promise<void>
  /** Open SSE streams and WebSockets. */
  readonly streams: number
  readonly sockets: number
  readonly requests: number
}

const MiB = 1024 * 1024
/** `recentRuns` by default: the last 50 to 100 ended runs (see `recentRuns`). */
const DEFAULT_RECENT_RUNS = 100

function positive(value: number | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback
  if (!Number.isSafeInteger(value) || value < 1) throw new ServerError(`${name} must be a positive integer, got ${String(value)}`)
  return value
}

/**
 * @example
 * const handler = createHandler({ engine, workflows: [wf], tokens: [process.env.TOKEN!] })
 * const server = http.createServer(handler.listener).on('upgrade', handler.upgrade)
 */
export function createHandler(options: HandlerOptions): Handler {
  const tokens = options.auth === false ? undefined : new Tokens([...(options.tokens ?? [])])
  if (tokens && tokens.size === 0) throw new ServerError('no bearer token: pass tokens (or auth: false, on a loopback address only)')
  const workflows = new Map<string, WorkflowDefinition>()
  for (const wf of options.workflows) workflows.set(wf.name, wf)
  const bodyLimitBytes = positive(options.bodyLimitBytes, 'bodyLimitBytes', MiB)
  const bufferBytes = positive(options.subscriberBufferBytes, 'subscriberBufferBytes', MiB)
  if (options.queue !== undefined && (typeof options.queue !== 'string' || options.queue === '')) throw new ServerError(`queue must be a queue name, got ${JSON.stringify(options.queue)}`)
  const hub = new RunHub(options.engine, workflows, positive(options.recentRuns, 'recentRuns', DEFAULT_RECENT_RUNS), options.queue)
  const streams: Streams = new Set()
  const sockets = new Sockets(hub, { bufferBytes, maxFrameBytes: bodyLimitBytes })
  let closing = false
  let requests = 0
  const idle: Array<() => void> = []
  const waiting = new Waits()
  const metrics = new Metrics(options.engine, { connections: () => requests, sockets: () => sockets.size, streams: () => streams.size })
  const ctx: RouteContext = {
    engine: options.engine,
    hub,
    workflows,
    tokens,
    metrics,
    streams,
    bodyLimitBytes,
    bufferBytes,
    heartbeatMs: positive(options.heartbeatMs, 'heartbeatMs', 15_000),
    waiting,
    closing: () => closing,
  }
  const done = (): void => {
    if (--requests === 0) for (const wake of idle.splice(0)) wake()
  }
  return {
    listener(req, res) {
      requests++
      res.once('close', done)
      route(ctx, req, res).catch((error: unknown) => answerError(res, error))
    },
    upgrade(req, socket, head) {
      const url = new URL(req.url ?? '/', 'http://localhost')
      try {
        if (url.pathname !== '/v1/ws') throw Object.assign(new Error(), { status: 404 })
        if (closing) throw shuttingDown()
        tokens?.check(req, url)
      } catch (error) {
        const { status, problem } = (error as { status?: number }).status === 404 ? { status: 404, problem: { code: 'ARCFLOW_NOT_FOUND', message: `no WebSocket route ${url.pathname}` } } : problemOf(error)
        const body = JSON.stringify({ error: problem })
        socket.end(`HTTP/1.1 ${status} ${status === 401 ? 'Unauthorized' : status === 404 ? 'Not Found' : 'Service Unavailable'}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`)
        return
      }
      sockets.upgrade(req, socket, head)
    },
    resumeInterrupted: () => hub.resumeInterrupted(),
    async drain(graceMs = 10_000) {
      closing = true
      hub.close()
      for (const stream of [...streams]) stream.close('shutdown')
      sockets.closeAll()
      if (requests === 0) return
      const timer = setTimeout(() => waiting.giveUpAll(), graceMs)
      await new Promise<void>((resolve) => idle.push(resolve))
      clearTimeout(timer)
    },
    get streams() {
      return streams.size
    },
    get sockets() {
      return sockets.size
    },
    get requests() {
      return requests
    },
  }
}
