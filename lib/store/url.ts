/**
 * The engine's `store` option read once: which database, the URL the
 * native store opens, the key engines of this process share it by, and
 * the URL as it may be shown (never with its password).
 *
 * - `memory`: no store.
 * - `sqlite:PATH[?locking=MODE]`: the embedded file; the key is the file,
 *   whatever the mode (one file, one mode per process: see `shared.ts`).
 * - `postgres://user:pass@host:5432/db` or `postgresql://...`, optionally
 *   `?schema=NAME`: parsed with the WHATWG `URL` (Node's own parser rather
 *   than hand-written splitting), so the sharing key is normalized: one
 *   scheme, the host lower-cased, the default port and user filled in, the
 *   query parameters sorted.
 */
import { StoreError } from '../errors'
import { canonicalPath } from './path'

export interface StoreTarget {
  readonly kind: 'sqlite' | 'postgres'
  /** What the native store opens. */
  readonly url: string
  /** The URL for messages and logs: the password masked. */
  readonly shown: string
  /** Engines of this process whose targets have one key share one store (see `shared.ts`). */
  key(): string
  /** SQLite's `?locking=` mode, the default filled in (PostgreSQL: none). */
  readonly locking?: string
}

/** Without `?locking=`: the default of `crates/arcflow-core/src/store/sqlite/locking.rs` (exclusive needs Unix). */
const DEFAULT_LOCKING = process.platform === 'win32' ? 'shared' : 'exclusive'

/** `PATH?locking=MODE` → the file and the mode, read as the native store reads it (a `?` not followed by `locking=` is part of the name). */
export function splitLocking(spec: string): { file: string; locking: string } {
  const q = spec.lastIndexOf('?')
  if (q >= 0 && spec.startsWith('locking=', q + 1)) return { file: spec.slice(0, q), locking: spec.slice(q + 1 + 'locking='.length) }
  return { file: spec, locking: DEFAULT_LOCKING }
}

const POSTGRES = /^postgres(ql)?:\/\//i

/**
 * `memory` → undefined; `sqlite:PATH` and `postgres://...` → their target;
 * anything else is a `StoreError` (that does not repeat a password).
 *
 * @example
 * parseStoreUrl('postgres://app:secret@db/arcflow?schema=tenant_1')!.shown
 * // 'postgres://app:***@db:5432/arcflow?schema=tenant_1'
 */
export function parseStoreUrl(store: string): StoreTarget | undefined {
  if (store === 'memory') return undefined
  if (store.startsWith('sqlite:') && store.length > 'sqlite:'.length) {
    const { file, locking } = splitLocking(store.slice('sqlite:'.length))
    // the file's canonical path, again after the open created it (a symlink's target)
    return { kind: 'sqlite', url: store, shown: store, locking, key: () => `sqlite:${canonicalPath(file)}` }
  }
  if (POSTGRES.test(store)) return postgresTarget(store)
  throw new StoreError(`unknown store ${JSON.stringify(masked(store))}: use 'memory', 'sqlite:PATH' or 'postgres://user:password@host:5432/database[?schema=NAME]'`)
}

function postgresTarget(store: string): StoreTarget {
  let url: URL
  try {
    url = new URL(store)
  } catch {
    throw new StoreError(`invalid PostgreSQL store URL ${JSON.stringify(masked(store))}: expected postgres://user:password@host:5432/database[?schema=NAME]`)
  }
  const shown = new URL(url.href)
  if (shown.password !== '') shown.password = '***'
  const normal = new URL(url.href.replace(POSTGRES, 'postgres://'))
  normal.hostname = normal.hostname.toLowerCase()
  if (normal.port === '') normal.port = '5432'
  if (normal.username === '') normal.username = process.env.PGUSER ?? process.env.USER ?? ''
  normal.searchParams.sort()
  const key = normal.href
  return { kind: 'postgres', url: store, shown: shown.href, key: () => key }
}

/** `text` with the password of any `scheme://user:password@` in it masked. */
export function masked(text: string): string {
  return text.replace(/(\/\/[^/@:\s]*:)[^@/\s]*@/g, '$1***@')
}
