/**
 * The HTTP routes (one function per route, matched by method and path).
 * Every refusal is a JSON problem (`problems.ts`); `/`, `/healthz` need no
 * token, everything else does when auth is on.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'

import type { Engine } from '../engine/engine'
import { renderTimeline } from '../cli/report'
import type { WorkflowDefinition } from '../workflow/model'
import type { Tokens } from './auth'
import { readJson } from './body'
import { WAITING, type RunHub } from './hub'
import { listRuns } from './list'
import type { Metrics } from './metrics'
import { renderPage } from './page'
import { notFound, ProblemError, sendJson, sendProblem } from './problems'
import type { RunEnd } from './run-end'
import { serveEvents, type Streams } from './sse'
import { MAX_WAIT_MS, parseCancelPolicy, parseSignalBody, parseStartRequest } from './start-request'
import type { Waits } from './waits'

export interface RouteContext {
  engine: Engine
  hub: RunHub
  workflows: ReadonlyMap<string, WorkflowDefinition>
  tokens: Tokens | undefined
  metrics: Metrics
  streams: Streams
  bodyLimitBytes: number
  bufferBytes: number
  heartbeatMs: number
  /** Requests waiting for a run's end: each answers at its time, or at once when shutdown's grace period is over. */
  waiting: Waits
  closing(): boolean
}

const page = renderPage()

export async function route(ctx: RouteContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const method = req.method ?? 'GET'
  // the hot route (starting runs) needs no URL object: no query, nothing to normalise
  if (req.url === '/v1/runs' && method === 'POST') {
    ctx.tokens?.check(req)
    return startRun(ctx, req, res)
  }
  const url = new URL(req.url ?? '/', 'http://localhost')
  const path = url.pathname
  if (path === '/' && method === 'GET') {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'", 'cache-control': 'no-store' })
    res.end(page)
    return
  }
  if (path === '/healthz' && method === 'GET') {
    return sendJson(res, ctx.closing() ? 503 : 200, { status: ctx.closing() ? 'shutting_down' : 'ok', liveRuns: ctx.hub.liveRuns })
  }
  ctx.tokens?.check(req, url)
  if (path === '/metrics' && method === 'GET') {
    const text = await ctx.metrics.text()
    res.writeHead(200, { 'content-type': ctx.metrics.contentType })
    res.end(text)
    return
  }
  if (path === '/v1/workflows' && method === 'GET') {
    return sendJson(res, 200, { workflows: [...ctx.workflows.values()].map(describeWorkflow) })
  }
  if (path === '/v1/runs') {
    if (method === 'POST') return startRun(ctx, req, res)
    if (method === 'GET') return sendJson(res, 200, await listRuns(ctx.engine, url.searchParams))
    throw methodNotAllowed('GET, POST')
  }
  const m = /^\/v1\/runs\/([^/]+)(?:\/(events|cancel|signals\/([^/]+)))?$/.exec(path)
  if (m) {
    const runId = decodeURIComponent(m[1]!)
    const sub = m[2]
    if (sub === undefined && method === 'GET') return sendJson(res, 200, await ctx.hub.info(runId))
    if (sub === 'events' && method === 'GET') return serveEvents(ctx.hub, runId, req, res, url, { bufferBytes: ctx.bufferBytes, heartbeatMs: ctx.heartbeatMs, streams: ctx.streams })
    if (sub === 'cancel' && method === 'POST') {
      const policy = parseCancelPolicy(await readJson(req, ctx.bodyLimitBytes))
      return sendJson(res, 202, { id: runId, status: await ctx.hub.cancel(runId, policy) })
    }
    if (m[3] !== undefined && method === 'POST') {
      const payload = parseSignalBody(await readJson(req, ctx.bodyLimitBytes))
      await ctx.hub.signal(runId, decodeURIComponent(m[3]), payload)
      return sendJson(res, 202, { id: runId, signal: decodeURIComponent(m[3]) })
    }
    throw methodNotAllowed(sub === undefined || sub === 'events' ? 'GET' : 'POST')
  }
  const t = /^\/ui\/runs\/([^/]+)\/timeline$/.exec(path)
  if (t && method === 'GET') {
    const info = (await ctx.hub.info(decodeURIComponent(t[1]!))) as { workflow: string; status: string; tasks: never[]; startedAt?: number; endedAt?: number }
    return sendJson(res, 200, { workflow: info.workflow, status: info.status, ...renderTimeline(info.tasks, info.startedAt, info.endedAt, info.status) })
  }
  throw notFound(`no route ${method} ${path}`)
}

const methodNotAllowed = (allow: string): ProblemError => new ProblemError(405, 'ARCFLOW_METHOD_NOT_ALLOWED', `this route takes ${allow}`)

async function startRun(ctx: RouteContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const request = parseStartRequest(await readJson(req, ctx.bodyLimitBytes))
  const starting = ctx.hub.start(request)
  // a start without a key answers at once: no await (a microtask less before the run's end is known)
  const started = starting instanceof Promise ? await starting : starting
  const code = started.created ? 201 : 200
  if (request.wait === undefined || request.wait === false) return sendJson(res, code, { id: started.runId, status: started.status })
  const ms = request.wait === true ? MAX_WAIT_MS : request.wait
  const runId = started.runId
  const answer = (end: RunEnd | undefined): void => {
    if (res.destroyed) return
    if (!end) return sendJson(res, code, { id: runId, status: 'running' })
    sendJson(res, 200, end.output !== undefined ? { id: end.runId, status: end.status, output: end.output } : end.error !== undefined ? { id: end.runId, status: end.status, error: end.error } : { id: end.runId, status: end.status })
  }
  // a run this server holds: a callback at its end (a trivial run has ended already, or ends a few microtasks on)
  const wake = (end: RunEnd): void => {
    stop()
    answer(end)
  }
  const held = ctx.hub.onEnd(runId, wake)
  if (held !== WAITING && held !== undefined) return answer(held)
  // the wait ends with the run, the client going away, its time, or shutdown's grace
  let abort: AbortController | undefined
  const giveUp = (): void => {
    stop()
    if (abort) abort.abort()
    else answer(undefined)
  }
  // a timer only for a wait of some milliseconds (`wait: true`'s long limit is the sweep's, see waits.ts)
  const timer = request.wait === true ? undefined : setTimeout(giveUp, ms)
  const stop = (): void => {
    if (timer !== undefined) clearTimeout(timer)
    res.off('close', stop)
    ctx.waiting.delete(giveUp)
    if (held === WAITING) ctx.hub.offEnd(runId, wake)
  }
  res.on('close', stop)
  ctx.waiting.add(giveUp, ms)
  if (held === WAITING) return
  // a run held elsewhere (in front of workers): the hub's promise, with a signal
  abort = new AbortController()
  res.on('close', () => abort!.abort())
  try {
    answer(await ctx.hub.waitEnd(runId, abort.signal))
  } finally {
    stop()
  }
}

function describeWorkflow(wf: WorkflowDefinition): unknown {
  const input = wf.input
  const schema = input === undefined ? null : 'schema' in input ? input.schema : { type: 'object', required: input.names }
  return { name: wf.name, version: wf.version, description: (wf as { description?: string }).description, tasks: wf.taskList.map((t) => t.name), inputSchema: schema }
}

/** The listener's catch-all: a problem, never a stack. */
export function answerError(res: ServerResponse, error: unknown): void {
  sendProblem(res, error)
}
