/**
 * The ended runs the hub keeps (`recentRuns`, `cap`): at most `cap`, at
 * least the last half of them, and any read since. Two generations of
 * Maps: new entries go to the young one; once it holds half of `cap`, it
 * becomes the old one and the old one is dropped whole; a read of an old
 * entry moves it to the young one. An insert is one `Map.set`: nothing is
 * evicted per run (lru-cache's eviction was half of the hub's cost of a
 * one-task run, ~0.6 µs, measured in process), and no Map loses its oldest
 * key per run (which leaves holes at its front that every later trim walks
 * over). Kept runs are what survives the young generation's collections:
 * each one kept costs the server CPU (see the README), so `cap` is an upper
 * bound, not a target.
 */
export class Recent<V> {
  /** Half of `cap`: the size at which the young generation becomes the old one. */
  readonly #half: number
  #young = new Map<string, V>()
  #old = new Map<string, V>()

  constructor(cap: number) {
    this.#half = Math.max(1, Math.ceil(cap / 2))
  }

  set(key: string, value: V): void {
    this.#young.set(key, value)
    if (this.#young.size >= this.#half) {
      this.#old = this.#young
      this.#young = new Map()
    }
  }

  get(key: string): V | undefined {
    const young = this.#young.get(key)
    if (young !== undefined) return young
    const old = this.#old.get(key)
    if (old === undefined) return undefined
    // read again: kept a generation longer
    this.#old.delete(key)
    this.set(key, old)
    return old
  }

  has(key: string): boolean {
    return this.#young.has(key) || this.#old.has(key)
  }
}
