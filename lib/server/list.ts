/**
 * `GET /v1/runs?status=&workflow=&limit=&cursor=`: run history, newest
 * first, a page at a time. The cursor is the last run of the previous page
 * (its start time and id, the store's order), so runs started meanwhile do
 * not shift the pages. The engine lists from the newest run, so a page
 * deep in the history reads the runs before it too (doubling reads).
 */
import type { Engine } from '../engine/engine'
import type { RunStatus } from '../engine/run'
import { RUN_STATUSES } from '../engine/statuses'
import type { RunRecord } from '../store/store'
import { badRequest } from './problems'
import { publicError } from './public'

export const MAX_PAGE = 1_000

interface Cursor {
  t: number
  id: string
}

const encode = (c: Cursor): string => Buffer.from(JSON.stringify(c)).toString('base64url')

function decode(text: string): Cursor {
  try {
    const c = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as Cursor
    if (typeof c.t === 'number' && typeof c.id === 'string') return c
  } catch {
    // below
  }
  throw badRequest('cursor is not one this server gave (use nextCursor of the previous page)', 'query.cursor')
}

/** `a` comes after the cursor in the store's order (started_at DESC, id). */
const after = (r: RunRecord, c: Cursor): boolean => r.startedAt < c.t || (r.startedAt === c.t && r.id > c.id)

export async function listRuns(engine: Engine, query: URLSearchParams): Promise<{ runs: unknown[]; nextCursor: string | null }> {
  const status = query.get('status') ?? undefined
  if (status !== undefined && !(RUN_STATUSES as readonly string[]).includes(status)) throw badRequest(`status must be one of ${RUN_STATUSES.join(', ')}`, 'query.status')
  const workflow = query.get('workflow') ?? undefined
  const limitText = query.get('limit') ?? '50'
  const limit = Number(limitText)
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) throw badRequest(`limit must be a whole number from 1 to ${MAX_PAGE}`, 'query.limit')
  const cursorText = query.get('cursor')
  const cursor = cursorText === null ? undefined : decode(cursorText)
  const filter = { ...(status ? { status: status as RunStatus } : {}), ...(workflow ? { workflow } : {}) }
  let want = limit + 1
  let page: RunRecord[]
  for (;;) {
    const got = await engine.runs({ ...filter, limit: want })
    page = cursor ? got.filter((r) => after(r, cursor)) : got
    if (page.length > limit || got.length < want) break
    want *= 2
  }
  const runs = page.slice(0, limit)
  const last = runs[runs.length - 1]
  return {
    runs: runs.map((r) => ({ ...r, error: publicError(r.error) })),
    nextCursor: page.length > limit && last ? encode({ t: last.startedAt, id: last.id }) : null,
  }
}
