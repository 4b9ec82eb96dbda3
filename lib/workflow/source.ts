/**
 * Reads a workflow definition from YAML or JSON text (JSON is YAML) or a
 * plain object, and keeps the YAML source so that a problem's path can be
 * turned into a line and column.
 */
import { isMap, isScalar, LineCounter, parseDocument, type Document } from 'yaml'

export interface Position {
  line: number
  column: number
}

export interface DefinitionSource {
  /** The definition as plain data. */
  value: unknown
  /** Parse problems (YAML syntax, duplicate keys), each with its position. */
  syntaxProblems: Array<{ message: string; position?: Position }>
  /**
   * Line and column of the value at a path (or of its key, with `atKey`),
   * when the definition came from text.
   */
  positionOf(path: ReadonlyArray<string | number>, atKey?: boolean): Position | undefined
}

export function readSource(definition: unknown): DefinitionSource {
  if (typeof definition !== 'string') {
    return { value: definition, syntaxProblems: [], positionOf: () => undefined }
  }
  const lines = new LineCounter()
  const doc = parseDocument(definition, { lineCounter: lines, uniqueKeys: true, prettyErrors: false })
  const at = (offset: number): Position => {
    const { line, col } = lines.linePos(offset)
    return { line, column: col }
  }
  return {
    value: doc.errors.length > 0 ? undefined : doc.toJS({ maxAliasCount: 100 }),
    syntaxProblems: doc.errors.map((e) => ({ message: e.message.split('\n')[0], position: at(e.pos[0]) })),
    positionOf: (path, atKey = false) => positionIn(doc, path, atKey, at),
  }
}

/** The deepest node along `path` that exists, so a missing key points at its parent. */
function positionIn(
  doc: Document,
  path: ReadonlyArray<string | number>,
  atKey: boolean,
  at: (offset: number) => Position,
): Position | undefined {
  for (let depth = path.length; depth >= 0; depth--) {
    const prefix = path.slice(0, depth)
    const node = prefix.length === 0 ? doc.contents : doc.getIn(prefix, true)
    if (node && typeof node === 'object' && 'range' in node && Array.isArray(node.range)) {
      if (atKey && depth > 0 && depth === path.length) {
        const parent = depth === 1 ? doc.contents : doc.getIn(path.slice(0, depth - 1), true)
        if (isMap(parent)) {
          const pair = parent.items.find((p) => isScalar(p.key) && p.key.value === path[depth - 1])
          if (pair && isScalar(pair.key) && pair.key.range) return at(pair.key.range[0])
        }
      }
      return at(node.range[0])
    }
  }
  return undefined
}
