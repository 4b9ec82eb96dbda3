/**
 * The ended runs the hub keeps (`recentRuns`): at least the last `cap`
 * ended, and any read since, at most twice `cap`. Two generations of Maps:
 * new entries go to the young one; once it holds `cap`, it becomes the old
 * one and the old one is dropped whole; a read of an old entry moves it to
 * the young one. An insert is one `Map.set`: nothing is evicted per run
 * (lru-cache's eviction was half of the hub's cost of a one-task run,
 * ~0.6 µs, measured in process), and no Map loses its oldest key per run
 * (which leaves holes at its front that every later trim walks over).
 */
export class Recent<V> {
  readonly #cap: number
  #young = new Map<string, V>()
  #old = new Map<string, V>()

  constructor(cap: number) {
    this.#cap = cap
  }

  set(key: string, value: V): void {
    this.#young.set(key, value)
    if (this.#young.size >= this.#cap) {
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
