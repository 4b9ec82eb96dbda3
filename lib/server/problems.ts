/**
 * Every error a client sees is a JSON problem `{ error: { code, message,
 * path? } }` with an HTTP status. Errors the server does not recognise
 * become a 500 with a generic message: no stack, no internal detail.
 */
import type { ServerResponse } from 'node:http'

import { ArcflowError, EngineClosedError, InputError, RunExistsError, ValueError } from '../errors'

export interface Problem {
  code: string
  message: string
  /** Where in the request the problem is, e.g. `input.name` or `body.wait`. */
  path?: string
}

/** A request the server refuses, with its status. */
export class ProblemError extends Error {
  readonly status: number
  readonly problem: Problem
  constructor(status: number, code: string, message: string, path?: string) {
    super(message)
    this.status = status
    this.problem = path === undefined ? { code, message } : { code, message, path }
  }
}

export const badRequest = (message: string, path?: string): ProblemError => new ProblemError(400, 'ARCFLOW_BAD_REQUEST', message, path)
export const notFound = (message: string): ProblemError => new ProblemError(404, 'ARCFLOW_NOT_FOUND', message)
export const shuttingDown = (): ProblemError => new ProblemError(503, 'ARCFLOW_SHUTTING_DOWN', 'the server is shutting down')

/** The status and problem of any error thrown while answering. */
export function problemOf(error: unknown): { status: number; problem: Problem } {
  if (error instanceof ProblemError) return { status: error.status, problem: error.problem }
  if (error instanceof InputError) {
    // the engine's problems read `input.name: required`: the first one's path is the problem's
    const first = error.problems[0]
    const path = first?.includes(':') ? first.slice(0, first.indexOf(':')) : undefined
    return { status: 422, problem: path ? { code: error.code, message: error.message, path } : { code: error.code, message: error.message } }
  }
  if (error instanceof ValueError) return { status: 422, problem: { code: error.code, message: error.message } }
  if (error instanceof RunExistsError) return { status: 409, problem: { code: error.code, message: error.message } }
  if (error instanceof EngineClosedError) return { status: 503, problem: { code: 'ARCFLOW_SHUTTING_DOWN', message: 'the server is shutting down' } }
  if (error instanceof ArcflowError) return { status: 500, problem: { code: error.code, message: error.message } }
  return { status: 500, problem: { code: 'ARCFLOW_INTERNAL', message: 'internal error' } }
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers?: Record<string, string>): void {
  const text = JSON.stringify(body)
  // headers as a flat list: no object built and walked per answer
  const list = ['content-type', 'application/json', 'content-length', String(Buffer.byteLength(text))]
  if (headers) for (const [k, v] of Object.entries(headers)) list.push(k, v)
  res.writeHead(status, list)
  res.end(text)
}

export function sendProblem(res: ServerResponse, error: unknown): void {
  const { status, problem } = problemOf(error)
  if (res.headersSent) {
    res.destroy()
    return
  }
  sendJson(res, status, { error: problem }, status === 401 ? { 'www-authenticate': 'Bearer' } : undefined)
}
