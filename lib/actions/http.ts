/** `http.request`. */
import type { ActionContext } from '../engine/attempt'
import { fail, object } from './input'

/** `http.request`: fetch with the task's signal; a 4xx/5xx answer fails the attempt (code `HTTP_<status>`). */
export async function httpRequest(input: unknown, { signal }: ActionContext): Promise<unknown> {
  const spec = typeof input === 'string' ? { url: input } : object(input)
  if (typeof spec.url !== 'string') fail(`http.request needs a url, got ${JSON.stringify(input)}`, 'ARCFLOW_BAD_INPUT')
  const headers = { ...(object(spec.headers) as Record<string, string>) }
  let body: string | undefined
  if (spec.json !== undefined) {
    body = JSON.stringify(spec.json)
    headers['content-type'] ??= 'application/json'
  } else if (spec.body !== undefined) body = typeof spec.body === 'string' ? spec.body : JSON.stringify(spec.body)
  const response = await fetch(spec.url as string, { method: typeof spec.method === 'string' ? spec.method : body ? 'POST' : 'GET', headers, body: body ?? null, signal })
  const text = await response.text()
  let parsed: unknown = text
  if ((response.headers.get('content-type') ?? '').includes('json')) {
    try {
      parsed = JSON.parse(text)
    } catch {
      // not JSON after all: kept as text
    }
  }
  const result = { status: response.status, ok: response.ok, headers: Object.fromEntries(response.headers), body: parsed }
  if (response.status >= 400) fail(`${spec.method ?? 'GET'} ${spec.url} answered ${response.status}`, `HTTP_${response.status}`, { result })
  return result
}

