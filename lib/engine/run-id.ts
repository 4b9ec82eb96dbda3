/**
 * Run ids for durable runs: UUID version 7 (RFC 9562), a millisecond
 * timestamp followed by random bits. Runs started close together sort
 * together, so the store appends to the end of its indexes instead of
 * writing all over them (a random UUID v4 key costs a page cache miss per
 * row on a large table).
 */
import { randomUUID } from 'node:crypto'

export function uuidv7(now = Date.now()): string {
  // randomUUID is v4 with its variant bits in place: keep its random tail,
  // put the timestamp in front and the version 7 nibble
  const random = randomUUID()
  const time = now.toString(16).padStart(12, '0')
  return `${time.slice(0, 8)}-${time.slice(8, 12)}-7${random.slice(15)}`
}
