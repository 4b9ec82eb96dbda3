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
 * - cycles, and nesting deeper than 100 levels: a {@link ValueError};
 * - `__proto__`, `constructor`, `prototype` keys: plain data, both ways;
 *   reading values back uses `JSON.parse`, which never touches a prototype.
 */
import { ValueError } from './errors'

export function encode(value: unknown, what: string): string {
  let text: string | undefined
  try {
    text = JSON.stringify(value)
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error)
    const hint = typeof value === 'bigint' || /BigInt/i.test(reason) ? ' (convert BigInt values to strings or numbers)' : ''
    throw new ValueError(`${what} cannot be workflow data: ${reason}${hint}`, { cause: error })
  }
  return text === undefined ? 'null' : text
}

export function decode(text: string | null): unknown {
  return text === null ? undefined : JSON.parse(text)
}
