/**
 * A start request (`POST /v1/runs`, the WebSocket's `start`): its fields
 * checked one by one, each problem a 400 naming its path. The input is
 * checked against the workflow's schema by the engine (a 422).
 */
import type { Durability } from '../engine/run'
import type { CancelPolicy } from '../engine/run-types'
import { badRequest } from './problems'

export interface StartRequest {
  workflow: string
  input?: unknown
  idempotencyKey?: string
  account?: string
  durability?: Durability
  /** `true`: wait for the run's end; a number: at most that many milliseconds. */
  wait?: boolean | number
}

/** The longest `wait` a request may ask for: a client wanting more watches the events. */
export const MAX_WAIT_MS = 5 * 60_000

const KEYS = new Set(['workflow', 'input', 'idempotencyKey', 'account', 'durability', 'wait'])

/** `extra`: keys the transport adds (the WebSocket's `type`, `ref`, `events`). */
export function parseStartRequest(body: unknown, where = 'body', extra: ReadonlySet<string> = new Set()): StartRequest {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw badRequest(`the ${where} must be a JSON object`, where)
  const b = body as Record<string, unknown>
  // for-in, not Object.keys: no array per request (a parsed JSON object has no inherited keys)
  for (const key in b) if (!KEYS.has(key) && !extra.has(key)) throw badRequest(`unknown field '${key}' (expected ${[...KEYS].join(', ')})`, `${where}.${key}`)
  if (typeof b.workflow !== 'string' || b.workflow === '') throw badRequest('workflow must be a workflow name', `${where}.workflow`)
  const out: StartRequest = { workflow: b.workflow, input: b.input }
  if (b.idempotencyKey !== undefined) {
    if (typeof b.idempotencyKey !== 'string' || b.idempotencyKey === '' || b.idempotencyKey.length > 256) throw badRequest('idempotencyKey must be a string of 1 to 256 characters', `${where}.idempotencyKey`)
    out.idempotencyKey = b.idempotencyKey
  }
  if (b.account !== undefined) {
    if (typeof b.account !== 'string' || b.account === '') throw badRequest('account must be a non-empty string', `${where}.account`)
    out.account = b.account
  }
  if (b.durability !== undefined) {
    if (!['none', 'batched', 'sync'].includes(b.durability as string)) throw badRequest("durability must be 'none', 'batched' or 'sync'", `${where}.durability`)
    out.durability = b.durability as Durability
  }
  if (b.wait !== undefined) {
    const w = b.wait
    if (!(typeof w === 'boolean' || (typeof w === 'number' && Number.isInteger(w) && w >= 0 && w <= MAX_WAIT_MS))) {
      throw badRequest(`wait must be true, false or a number of milliseconds from 0 to ${MAX_WAIT_MS}`, `${where}.wait`)
    }
    out.wait = w
  }
  return out
}

export function parseCancelPolicy(body: unknown, where = 'body'): CancelPolicy | undefined {
  if (body === undefined) return undefined
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw badRequest(`the ${where} must be a JSON object`, where)
  const policy = (body as { policy?: unknown }).policy
  if (policy === undefined) return undefined
  if (policy !== 'cancel_running' && policy !== 'allow_finish') throw badRequest("policy must be 'cancel_running' or 'allow_finish'", `${where}.policy`)
  return policy
}

/** A signal's body `{ payload }` (an absent body or payload: `null`). */
export function parseSignalBody(body: unknown, where = 'body', extra: ReadonlySet<string> = new Set()): unknown {
  if (body === undefined) return null
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw badRequest(`the ${where} must be a JSON object`, where)
  for (const key of Object.keys(body)) if (key !== 'payload' && !extra.has(key)) throw badRequest(`unknown field '${key}' (expected payload)`, `${where}.${key}`)
  return (body as { payload?: unknown }).payload ?? null
}
