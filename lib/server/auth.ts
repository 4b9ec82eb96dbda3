/**
 * Bearer tokens: read from a file (one per line, `#` comments) and/or an
 * environment variable (comma-separated), several allowed, compared in
 * constant time (SHA-256 digests of equal length through
 * `timingSafeEqual`, so neither content nor length leaks through timing).
 * Browsers cannot set headers on an EventSource or a WebSocket: those
 * requests may carry the token as `?access_token=` instead.
 *
 * A keep-alive connection sends the same `Authorization` header with each
 * request: the header accepted last on a connection is remembered, and a
 * request carrying exactly it is not hashed again (about 2 µs a request).
 * Only a header this connection already proved is taken so; any other goes
 * through the constant-time check.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import { readFileSync } from 'node:fs'
import type { IncomingMessage } from 'node:http'
import { isIP, type Socket } from 'node:net'

import { ProblemError } from './problems'

const digest = (token: string): Buffer => createHash('sha256').update(token).digest()

export class Tokens {
  readonly #digests: Buffer[]
  /** The `Authorization` header accepted last on each connection (gone with the connection). */
  readonly #accepted = new WeakMap<Socket, string>()
  constructor(tokens: readonly string[]) {
    this.#digests = tokens.filter((t) => t.length > 0).map(digest)
  }

  get size(): number {
    return this.#digests.length
  }

  /** Constant time in the token: every known token is compared. */
  accepts(token: string): boolean {
    const given = digest(token)
    let ok = false
    for (const d of this.#digests) ok = timingSafeEqual(d, given) || ok
    return ok
  }

  /** Throws a 401 problem unless the request carries a known token (`url`: where `?access_token=` is read, the request's own by default). */
  check(req: IncomingMessage, url?: URL): void {
    const header = req.headers.authorization
    let token: string | undefined
    if (header !== undefined) {
      if (this.#accepted.get(req.socket) === header) return
      const match = /^Bearer\s+(\S+)\s*$/i.exec(header)
      token = match?.[1]
    } else token = (url ?? new URL(req.url ?? '/', 'http://localhost')).searchParams.get('access_token') ?? undefined
    if (token === undefined) throw new ProblemError(401, 'ARCFLOW_UNAUTHORIZED', 'a bearer token is required (Authorization: Bearer TOKEN)')
    if (!this.accepts(token)) throw new ProblemError(401, 'ARCFLOW_UNAUTHORIZED', 'the bearer token is not valid')
    if (header !== undefined) this.#accepted.set(req.socket, header)
  }
}

/** Tokens of a file (one a line, blank lines and `#` comments skipped). */
export function readTokenFile(file: string): string[] {
  return readFileSync(file, 'utf8')
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
}

/** Tokens of an environment variable's value, comma-separated. */
export function parseTokenList(value: string | undefined): string[] {
  return (value ?? '').split(',').map((t) => t.trim()).filter((t) => t !== '')
}

/** 127.0.0.0/8, ::1, `localhost`: an address only this machine reaches. */
export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true
  const bare = host.replace(/^\[|\]$/g, '')
  if (isIP(bare) === 4) return bare.startsWith('127.')
  if (isIP(bare) === 6) return bare === '::1' || /^::ffff:127\./i.test(bare)
  return false
}
