/**
 * `createServer`: a `node:http` server around {@link createHandler}, bound
 * to 127.0.0.1 by default, with header, request and idle timeouts, and a
 * graceful `close()`: stop accepting, let open requests answer, close
 * streams with a final frame, flush the store.
 */
import { createServer as createHttpServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

import { ServerError } from '../errors'
import { isLoopback } from './auth'
import { createHandler, type Handler, type HandlerOptions } from './handler'

export interface ServerOptions extends HandlerOptions {
  /** Default '127.0.0.1'. `auth: false` is refused on any other than a loopback address. */
  host?: string
  /** Default 8080; 0 picks a free port (see `listen()`'s answer). */
  port?: number
  /** Time to receive a request's headers; default 10,000 ms. */
  headersTimeoutMs?: number
  /** Time to receive a whole request (headers and body); default 30,000 ms. */
  requestTimeoutMs?: number
  /** An idle keep-alive connection is closed after this; default 5,000 ms. */
  keepAliveTimeoutMs?: number
  /** How long `close()` lets requests waiting for a run go on; default 10,000 ms. */
  shutdownGraceMs?: number
}

export interface ArcflowServer {
  readonly server: Server
  readonly handler: Handler
  /** Starts listening; resolves with the address bound. */
  listen(): Promise<{ host: string; port: number; url: string }>
  /** Graceful stop (see the module); the engine is flushed, not closed: runs in flight stay to be resumed. */
  close(): Promise<void>
}

/**
 * @example
 * const server = createServer({ engine, workflows: [wf], tokens: ['s3cret'], port: 8080 })
 * const { url } = await server.listen()
 * process.on('SIGTERM', () => server.close().then(() => process.exit(0)))
 */
export function createServer(options: ServerOptions): ArcflowServer {
  const host = options.host ?? '127.0.0.1'
  if (options.auth === false && !isLoopback(host)) throw new ServerError(`auth: false (--no-auth) is refused on ${host}: without tokens, serve on a loopback address only (127.0.0.1, ::1)`)
  const port = options.port ?? 8080
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ServerError(`port must be 0 to 65535, got ${String(port)}`)
  const handler = createHandler(options)
  const server = createHttpServer({ headersTimeout: options.headersTimeoutMs ?? 10_000, requestTimeout: options.requestTimeoutMs ?? 30_000, keepAliveTimeout: options.keepAliveTimeoutMs ?? 5_000 }, handler.listener)
  server.on('upgrade', handler.upgrade)
  // a socket that errors (a reset peer) is dropped, never an uncaught error
  server.on('clientError', (_error, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n')
    else socket.destroy()
  })
  let closed: Promise<void> | undefined
  return {
    server,
    handler,
    listen() {
      return new Promise((resolve, reject) => {
        server.once('error', reject)
        server.listen(port, host, () => {
          server.off('error', reject)
          const address = server.address() as AddressInfo
          const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address
          resolve({ host: address.address, port: address.port, url: `http://${shown}:${address.port}` })
        })
      })
    },
    close() {
      closed ??= (async () => {
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()))
        server.closeIdleConnections()
        await handler.drain(options.shutdownGraceMs ?? 10_000)
        // every request has answered: what is left is idle keep-alive (a client's pool would hold it open)
        server.closeAllConnections()
        await stopped
        await options.engine.flush()
      })()
      return closed
    },
  }
}
