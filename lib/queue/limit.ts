/**
 * `engine.queue(name, { concurrency })`: the limit of a queue's runs
 * running at once across every worker of every process (kept in the
 * database's `queues` table; each claim honours it under that row's lock).
 */
import type { QueueHost } from './host'
import { checkQueueLimit } from './options'

export async function setQueueLimit(host: QueueHost, name: string, options: { concurrency: number | null }): Promise<void> {
  const limit = checkQueueLimit(name, options)
  await host.hub().client.setLimit(name, limit)
}
