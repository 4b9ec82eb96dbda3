/**
 * A workflow's version: the sha256 of its definition as canonical JSON
 * (object keys sorted, no whitespace), so that the same definition written
 * as YAML or JSON, in any key order, with any comments, is one version, and
 * any change to it is another. The store keeps each version's canonical
 * text once, so that a run can be resumed with the definition it started
 * with (`engine.resume`).
 */
import { createHash } from 'node:crypto'

/** A definition's canonical text and its version. */
export interface DefinitionIdentity {
  /** Canonical JSON of the definition as loaded. */
  definition: string
  /** sha256 of `definition`, in hex. */
  version: string
}

/**
 * Canonical JSON of plain data: keys sorted at every depth; what JSON
 * cannot hold (functions, `undefined`) is left out as `JSON.stringify`
 * does. Throws a TypeError for a cycle or a BigInt.
 *
 * @example
 * canonicalJson({ b: 1, a: [true, { d: null, c: 'x' }] }) // '{"a":[true,{"c":"x","d":null}],"b":1}'
 */
export function canonicalJson(value: unknown): string {
  const seen = new Set<object>()
  const sorted = (v: unknown): unknown => {
    if (v === null || typeof v !== 'object') return v
    if (seen.has(v)) throw new TypeError('the definition refers to itself (a cycle): it must be plain data')
    seen.add(v)
    const out = Array.isArray(v)
      ? v.map(sorted)
      : Object.fromEntries(Object.keys(v).sort().map((key) => [key, sorted((v as Record<string, unknown>)[key])]))
    seen.delete(v)
    return out
  }
  return JSON.stringify(sorted(value)) ?? 'null'
}

/**
 * The canonical text and version of a definition (plain data, as read from
 * YAML, JSON or an object).
 *
 * @example
 * const { version } = definitionIdentity({ name: 'hi', tasks: { a: { action: 'core.echo' } } })
 */
export function definitionIdentity(value: unknown): DefinitionIdentity {
  const definition = canonicalJson(value)
  return { definition, version: createHash('sha256').update(definition).digest('hex') }
}

/** The short form a person reads (`runs show`, the report): the first 12 hex digits. */
export function shortVersion(version: string): string {
  return version.slice(0, 12)
}
