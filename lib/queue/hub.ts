/**
 * Wake-ups, one hub per store URL and process (shared by the engines on
 * it, counted by reference like the store, see `store/shared.ts`): the
 * native queue's connection, and the events workers, `result` waiters and
 * cancel forwarding wait on:
 * - `enqueued` (queue names), `ended` (run ids, or `'*'`: re-check all),
 *   `cancel` (run ids), `written` (a batch of writes of runs held by
 *   workers committed: event streams read the journal again), `signalled`
 *   (a signal was stored for these runs: the worker holding one takes it),
 *   `missed` (notices may have been lost: re-check all);
 * - in this process they are emitted directly, at once;
 * - from other processes they arrive as PostgreSQL notices (one listening
 *   connection per process, opened with the first subscriber);
 * - SQLite has no notifications: across processes, workers and waiters
 *   poll (`WorkOptions.pollInterval`, default 250 ms).
 */
import { EventEmitter } from 'node:events'

import { EnqueueGroup } from './group'
import { listen, QueueClient, type Notice } from './native'

export interface HubEvents {
  enqueued: [queues: string[]]
  ended: [ids: string[] | '*']
  cancel: [ids: string[]]
  written: [ids: string[] | '*']
  signalled: [ids: string[] | '*']
  missed: []
  error: [error: Error]
}

export class QueueHub extends EventEmitter<HubEvents> {
  readonly key: string
  readonly url: string
  readonly client: QueueClient
  /** This process's enqueues, group-committed. */
  readonly enqueues: EnqueueGroup
  /** Other processes' changes arrive as notices (PostgreSQL); else a poll must find them. */
  readonly notified: boolean
  #listener: { stop(): void } | undefined
  #subscribers = 0
  refs = 0

  constructor(key: string, url: string) {
    super()
    this.key = key
    this.url = url
    this.client = new QueueClient(url)
    this.enqueues = new EnqueueGroup(this.client)
    this.notified = !url.startsWith('sqlite:')
    // many waiters (one per `result` call) listen at once
    this.setMaxListeners(0)
  }

  /** A subscriber wants other processes' notices: the first opens the listening connection. */
  subscribe(): void {
    if (this.#subscribers++ > 0 || !this.notified) return
    this.#listener = listen(this.url, (notice) => this.#deliver(notice))
  }

  unsubscribe(): void {
    if (--this.#subscribers > 0) return
    this.#subscribers = 0
    this.#listener?.stop()
    this.#listener = undefined
  }

  #deliver(notice: Notice): void {
    if ('q' in notice) this.emit('enqueued', notice.q)
    else if ('e' in notice) this.emit('ended', notice.e)
    else if ('c' in notice) this.emit('cancel', notice.c)
    else if ('w' in notice) this.emit('written', notice.w)
    else if ('g' in notice) this.emit('signalled', notice.g)
    else if ('missed' in notice) this.emit('missed')
    else if (this.listenerCount('error') > 0) this.emit('error', notice.error)
  }

  close(): void {
    this.#listener?.stop()
    this.#listener = undefined
    this.client.close()
    this.removeAllListeners()
  }
}

const hubs = new Map<string, QueueHub>()

/** This process's hub for the store of sharing key `key` (see `store/url.ts`) at `url`, opened with its first holder. */
export function acquireHub(key: string, url: string): QueueHub {
  let hub = hubs.get(key)
  if (!hub) {
    hub = new QueueHub(key, url)
    hubs.set(key, hub)
  }
  hub.refs++
  return hub
}

/** This process's hub for the store of sharing key `key` if one is open (nobody here listens otherwise). */
export function openHub(key: string): QueueHub | undefined {
  return hubs.get(key)
}

/** Gives a holder's reference back; the last closes the hub. */
export function releaseHub(hub: QueueHub): void {
  if (--hub.refs > 0) return
  hubs.delete(hub.key)
  hub.close()
}
