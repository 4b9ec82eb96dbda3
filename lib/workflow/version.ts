/**
 * A workflow's version: the sha256 of its definition as normalized JSON
 * (see `normalizedJson`), so that the same definition written as YAML or
 * JSON, with any spacing or comments, is one version, and any change to it
 * is another. The store keeps each version's normalized
 * text once, so that a run can be resumed with the definition it started
 * with (`engine.resume`).
 */
import { createHash } from 'node:crypto'

/** A definition's normalized text and its version. */
export interface DefinitionIdentity {
  /** The definition as loaded, as normalized JSON. */
  definition: string
  /** sha256 of `definition`, in hex. */
  version: string
}

/**
 * The definition as JSON text with no whitespace. Keys keep the order they
 * were written in: that order is meaning (task indexes, which a run's
 * snapshots refer to, the default start, the key order of rendered inputs),
 * so a reordered definition is another version. Throws a TypeError for a
 * cycle or a BigInt.
 *
 * @example
 * normalizedJson({ b: 1, a: [true, { c: 'x' }] }) // '{"b":1,"a":[true,{"c":"x"}]}'
 */
export function normalizedJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? 'null'
  } catch (error) {
    throw new TypeError(`the definition must be plain JSON data: ${(error as Error).message.split('\n')[0]}`)
  }
}

/**
 * The normalized text and version of a definition (plain data, as read from
 * YAML, JSON or an object).
 *
 * @example
 * const { version } = definitionIdentity({ name: 'hi', tasks: { a: { action: 'core.echo' } } })
 */
export function definitionIdentity(value: unknown): DefinitionIdentity {
  const definition = normalizedJson(value)
  return { definition, version: createHash('sha256').update(definition).digest('hex') }
}

/** The short form a person reads (`runs show`, the report): the first 12 hex digits. */
export function shortVersion(version: string): string {
  return version.slice(0, 12)
}
