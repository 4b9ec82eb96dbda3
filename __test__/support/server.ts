// The server tests' clients: an SSE reader over fetch (events with their
// ids, the final `end` frame), a WebSocket client that queues frames, and
// an in-process server on a free loopback port.
import { join } from 'node:path'
import WebSocket from 'ws'

import { Engine } from '../../lib/index'
import { createServer, type ArcflowServer, type ServerOptions } from '../../lib/server/index'

export const serverFixtures = join(__dirname, '..', 'fixtures', 'server')
export const TOKEN = 'test-token-1'

export interface Sse {
  id: number | undefined
  event: string
  data: unknown
}

/** Reads an SSE stream until `stop` says so or it ends; every frame with its id. */
export async function readSse(url: string, options: { token?: string; lastEventId?: number; stop?: (frames: Sse[]) => boolean; signal?: AbortSignal } = {}): Promise<{ status: number; frames: Sse[] }> {
  const headers: Record<string, string> = {}
  if (options.token) headers.authorization = `Bearer ${options.token}`
  if (options.lastEventId !== undefined) headers['last-event-id'] = String(options.lastEventId)
  const controller = new AbortController()
  options.signal?.addEventListener('abort', () => controller.abort())
  const res = await fetch(url, { headers, signal: controller.signal })
  const frames: Sse[] = []
  if (res.status !== 200 || !res.body) return { status: res.status, frames }
  const decoder = new TextDecoder()
  let text = ''
  try {
    for await (const chunk of res.body) {
      text += decoder.decode(chunk as Uint8Array, { stream: true })
      let cut
      while ((cut = text.indexOf('\n\n')) >= 0) {
        const block = text.slice(0, cut)
        text = text.slice(cut + 2)
        let id: number | undefined
        let event = 'message'
        let data: string | undefined
        for (const line of block.split('\n')) {
          if (line.startsWith('id: ')) id = Number(line.slice(4))
          else if (line.startsWith('event: ')) event = line.slice(7)
          else if (line.startsWith('data: ')) data = line.slice(6)
        }
        if (data === undefined) continue
        frames.push({ id, event, data: JSON.parse(data) })
        if (options.stop?.(frames)) {
          controller.abort()
          return { status: 200, frames }
        }
      }
    }
  } catch (error) {
    if (!controller.signal.aborted) throw error
  }
  return { status: 200, frames }
}

/** A WebSocket client: frames queue up; `next(pred)` takes the first that matches. */
export class WsClient {
  readonly ws: WebSocket
  readonly frames: Array<Record<string, unknown>> = []
  #waiters: Array<() => void> = []
  readonly opened: Promise<void>
  readonly closed: Promise<{ code: number }>
  constructor(url: string, token?: string) {
    this.ws = new WebSocket(url, token ? { headers: { authorization: `Bearer ${token}` } } : {})
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve())
      this.ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode })))
      this.ws.once('error', reject)
    })
    this.closed = new Promise((resolve) => this.ws.once('close', (code) => resolve({ code })))
    this.ws.on('message', (data) => {
      this.frames.push(JSON.parse(String(data)) as Record<string, unknown>)
      for (const wake of this.#waiters.splice(0)) wake()
    })
    this.ws.on('close', () => {
      for (const wake of this.#waiters.splice(0)) wake()
    })
  }
  send(frame: unknown): void {
    this.ws.send(JSON.stringify(frame))
  }
  async next(pred: (f: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
    for (;;) {
      const i = this.frames.findIndex(pred)
      if (i >= 0) return this.frames.splice(i, 1)[0]!
      if (this.ws.readyState === WebSocket.CLOSED) throw new Error('the socket closed')
      await new Promise<void>((resolve) => this.#waiters.push(resolve))
    }
  }
}

/** A test action whose calls wait until the test releases them (no timing involved). */
export class Gate {
  #open: Array<() => void> = []
  #waiting: Array<() => void> = []
  calls = 0
  action = async (): Promise<number> => {
    this.calls++
    for (const wake of this.#waiting.splice(0)) wake()
    await new Promise<void>((resolve) => this.#open.push(resolve))
    return this.calls
  }
  /** Resolves once `n` calls have been made. */
  async reached(n: number): Promise<void> {
    while (this.calls < n) await new Promise<void>((resolve) => this.#waiting.push(resolve))
  }
  release(): void {
    for (const wake of this.#open.splice(0)) wake()
  }
}

export interface Served {
  engine: Engine
  server: ArcflowServer
  url: string
  ws: string
  gate: Gate
  close(): Promise<void>
}

/** An engine with the built-ins, a `gate` action and the test workflows, served on a free port. */
export async function serve(options: Partial<ServerOptions> & { store?: string } = {}): Promise<Served> {
  const engine = options.engine ?? new Engine({ builtins: true, handleSignals: false, ...(options.store ? { store: options.store } : {}) })
  const gate = new Gate()
  engine.action('gate', gate.action)
  engine.action('talk', async ({ n, size }: { n: number; size: number }, ctx) => {
    const line = 'x'.repeat(size)
    for (let i = 0; i < n; i++) ctx.log(line, { i })
    return n
  })
  const gated = engine.workflow({ name: 'gated', input: ['label'], tasks: { one: { action: 'gate', next: { do: 'two' } }, two: { action: 'gate', next: { do: 'three' } }, three: { action: 'core.echo', input: { label: '{{ input.label }}' } } }, output: '{{ tasks.three.result }}' })
  const trivial = engine.workflow({ name: 'trivial', tasks: { echo: { action: 'core.echo', input: '{{ input }}' } }, output: '{{ tasks.echo.result }}' })
  const failing = engine.workflow({ name: 'failing', tasks: { boom: { action: 'core.fail', input: { message: 'it broke' } } } })
  const steps = engine.load(join(serverFixtures, 'steps.yaml'))
  const noisy = engine.workflow({ name: 'noisy', tasks: { hold: { action: 'gate', next: { do: 'talk' } }, talk: { action: 'talk', input: { n: '{{ input.n }}', size: '{{ input.size }}' } } } })
  // waits for one `approval` signal: its payload is the output
  const approval = engine.workflow({ name: 'approval', tasks: { approve: { wait: { signal: 'approval' } } }, output: '{{ tasks.approve.result }}' })
  const server = createServer({ tokens: [TOKEN, 'second-token'], port: 0, ...options, engine, workflows: options.workflows ?? [gated, trivial, failing, steps, noisy, approval] })
  const { url } = await server.listen()
  return {
    engine,
    server,
    url,
    ws: `${url.replace('http', 'ws')}/v1/ws`,
    gate,
    async close() {
      await server.close()
      await engine.close()
    },
  }
}

/** fetch with the token and a JSON body. */
export async function api(url: string, init: { method?: string; body?: unknown; token?: string | null; headers?: Record<string, string> } = {}): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = { ...(init.headers ?? {}) }
  if (init.token !== null) headers.authorization = `Bearer ${init.token ?? TOKEN}`
  let body: string | undefined
  if (init.body !== undefined) {
    headers['content-type'] ??= 'application/json'
    body = typeof init.body === 'string' ? init.body : JSON.stringify(init.body)
  }
  const res = await fetch(url, { method: init.method ?? (body === undefined ? 'GET' : 'POST'), headers, body })
  const text = await res.text()
  let parsed: unknown = text
  try {
    parsed = JSON.parse(text)
  } catch {
    // the page, the metrics: text
  }
  return { status: res.status, body: parsed }
}
