/**
 * How values cross into the native core: as JSON text (measured against
 * napi's serde conversion in `benchmark/codec.bench.js`). The rules are
 * JSON's, with clear errors where JSON would fail:
 *
 * - `undefined`, functions and symbols: dropped from objects, `null` in
 *   arrays and at the top level;
 * - `NaN`, `Infinity`, `-Infinity`: `null`;
 * - `Date`: its ISO string (`toJSON`); any object with `toJSON` likewise;
 * - `BigInt`: a {@link ValueError} (convert it to a string or a number first);
 * - cycles, nesting deeper than 100 levels, and strings holding a lone
 *   UTF-16 surrogate (not valid Unicode): a {@link ValueError}, noticed
 *   here, before the core sees the value;
 * - `__proto__`, `constructor`, `prototype` keys: plain data, both ways;
 *   reading values back uses `JSON.parse`, which never touches a prototype.
 */
import { ValueError } from './errors'

/** Deepest nesting of workflow data (the core's `value::MAX_DEPTH`). */
export const MAX_DEPTH = 100

/**
 * A value as JSON text for the core; a {@link ValueError} naming `what`
 * for one that cannot be workflow data. `depth`: the nesting it may use
 * (less than {@link MAX_DEPTH} for a value that will sit inside a list).
 * `item` (0 or more): the value is that item's result, and `what` names
 * its task; the error's text is made only then (not once per item).
 *
 * @example
 * encode({ a: [1] }, 'result') // '{"a":[1]}'
 * encode('\uD800', 'result')   // throws ValueError: ... lone UTF-16 surrogate
 * encode(1n, "task 'fetch'", MAX_DEPTH, 3) // throws ValueError: result of item 3 of task 'fetch' cannot be workflow data: ...
 */
export function encode(value: unknown, what: string, depth = MAX_DEPTH, item = -1): string {
  let text: string | undefined
  try {
    text = JSON.stringify(value)
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error)
    const hint = typeof value === 'bigint' || /BigInt/i.test(reason) ? ' (convert BigInt values to strings or numbers)' : ''
    throw new ValueError(`${described(what, item)} cannot be workflow data: ${reason}${hint}`, { cause: error })
  }
  if (text === undefined) return 'null'
  // each level takes two brackets: shorter text cannot be too deep
  if (text.length > 2 * depth && nestedDeeper(text, depth)) throw new ValueError(`${described(what, item)} cannot be workflow data: it is nested deeper than ${depth} levels`)
  // JSON.stringify writes a lone surrogate as an escape, and only those in that range
  if (text.includes('\\ud') && LONE_SURROGATE.test(text)) {
    throw new ValueError(`${described(what, item)} cannot be workflow data: a string holds a lone UTF-16 surrogate (not valid Unicode; use String.prototype.toWellFormed)`)
  }
  return text
}

function described(what: string, item: number): string {
  return item < 0 ? what : `result of item ${item} of ${what}`
}

/** A string that is valid Unicode (no lone UTF-16 surrogate, which a database could only store as U+FFFD). */
export function wellFormed(text: string): boolean {
  return (text as string & { isWellFormed(): boolean }).isWellFormed()
}

/**
 * Checks that a value can be workflow data, as {@link encode} does, without
 * writing it out when that is certain at a glance (a number, a boolean,
 * null, a well-formed string): answers the JSON text when it wrote it.
 *
 * @example
 * validated(3, 'result')        // undefined (nothing to write)
 * validated({ a: 1 }, 'result') // '{"a":1}'
 */
export function validated(value: unknown, what: string, depth = MAX_DEPTH, item = -1): string | undefined {
  switch (typeof value) {
    case 'number':
    case 'boolean':
    case 'undefined':
      return undefined
    case 'string':
      if (wellFormed(value)) return undefined
      break
    case 'object':
      if (value === null) return undefined
  }
  return encode(value, what, depth, item)
}

/** An escape `\uD800`-`\uDFFF` (an odd run of backslashes before the `u`). */
const LONE_SURROGATE = /(?<!\\)(?:\\\\)*\\ud[89a-f]/

/** JSON text nested deeper than `limit` (the core's scan: brackets outside strings). */
function nestedDeeper(text: string, limit: number): boolean {
  let depth = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === 34) {
      // a string: on to its closing quote (one not escaped)
      for (i++; ; i++) {
        i = text.indexOf('"', i)
        let backslashes = 0
        while (text.charCodeAt(i - 1 - backslashes) === 92) backslashes++
        if (backslashes % 2 === 0) break
      }
    } else if (c === 91 || c === 123) {
      if (++depth > limit) return true
    } else if (c === 93 || c === 125) depth--
  }
  return false
}

export function decode(text: string | null): unknown {
  return text === null ? undefined : JSON.parse(text)
}
