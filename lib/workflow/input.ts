/**
 * A workflow's input contract: a list of required names, or a JSON Schema
 * (draft 2020-12, through ajv, with ajv-formats' `format`s), compiled once
 * at load and checked when a run starts, reporting every problem at once.
 */
import Ajv2020, { type ErrorObject, type ValidateFunction } from 'ajv/dist/2020'
import addFormats from 'ajv-formats'

export type InputSpec = { names: string[] } | { schema: Record<string, unknown>; check: ValidateFunction }

let ajv: Ajv2020 | undefined

/** Compiles a schema; a string describing why it is not a valid schema otherwise. */
export function compileInputSchema(schema: Record<string, unknown>): ValidateFunction | string {
  if (!ajv) {
    ajv = new Ajv2020({ allErrors: true, strict: false })
    addFormats(ajv)
  }
  try {
    return ajv.compile(schema)
  } catch (error) {
    return (error as Error).message
  }
}

function describeError(e: ErrorObject): string {
  const where = e.instancePath === '' ? 'input' : `input${e.instancePath.replace(/\/([^/]*)/g, (_, key: string) => (/^\d+$/.test(key) ? `[${key}]` : `.${key.replace(/~1/g, '/').replace(/~0/g, '~')}`))}`
  const extra = e.keyword === 'additionalProperties' ? ` ('${(e.params as { additionalProperty: string }).additionalProperty}')` : ''
  return `${where}: ${e.message ?? e.keyword}${extra}`
}

/** Every way `input` breaks the contract (empty when it keeps it). */
export function inputProblems(spec: InputSpec | undefined, input: unknown): string[] {
  if (!spec) return []
  if ('names' in spec) {
    return spec.names
      .filter((n) => input === null || typeof input !== 'object' || !Object.prototype.hasOwnProperty.call(input, n))
      .map((n) => `input.${n}: required`)
  }
  if (spec.check(input)) return []
  return (spec.check.errors ?? []).map(describeError)
}
