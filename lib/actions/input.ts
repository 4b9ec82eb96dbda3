/** What the built-in actions share: reading their input, failing with a code. */

/** Throws an `Error` with a `code` (and more fields): what the task's `failed()` and `retry.when` see. */
export function fail(message: string, code: string, extra: Record<string, unknown> = {}): never {
  throw Object.assign(new Error(message), { code, ...extra })
}

/** The input as an object, or `{}`. */
export const object = (input: unknown): Record<string, unknown> => (input !== null && typeof input === 'object' ? input as Record<string, unknown> : {})
