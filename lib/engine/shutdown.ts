/**
 * SIGINT and SIGTERM for engines with a store (`handleSignals`, default on):
 * one process listener per signal, shared by every such engine.
 *
 * The rule: when no other listener for the signal is installed (the
 * application left the signal to arcflow), the process exits with the
 * conventional code, 130 / 143. `process.exit` is synchronous, so nothing
 * starts after the signal, and each engine's `exit` hook commits what is
 * queued: every acknowledged completion is on disk, and runs still in
 * progress stay `running`, to be resumed (`interruptedRuns`, `resume`).
 * When the application has a listener of its own, arcflow neither removes
 * it nor exits: the application owns the shutdown (`await engine.close()`,
 * then exit), and its exit still commits what is queued.
 */

/** The conventional exit codes: 128 + the signal's number. */
export const SIGNAL_EXIT_CODES = { SIGINT: 130, SIGTERM: 143 } as const

type HandledSignal = keyof typeof SIGNAL_EXIT_CODES

/** Engines that asked for signal handling; the listeners exist while there is one. */
const engines = new Set<object>()
const listeners = new Map<HandledSignal, () => void>()

function onSignal(signal: HandledSignal): void {
  const own = listeners.get(signal)
  if (process.listeners(signal).some((listener) => listener !== own)) return
  process.exit(SIGNAL_EXIT_CODES[signal])
}

/**
 * Makes the process exit cleanly on SIGINT / SIGTERM while `engine` is
 * open; undo with {@link releaseSignals}.
 *
 * @example
 * handleSignals(engine) // in the constructor; releaseSignals(engine) in close()
 */
export function handleSignals(engine: object): void {
  engines.add(engine)
  if (listeners.size > 0) return
  for (const signal of Object.keys(SIGNAL_EXIT_CODES) as HandledSignal[]) {
    const listener = (): void => onSignal(signal)
    listeners.set(signal, listener)
    process.on(signal, listener)
  }
}

/**
 * `engine` no longer needs the signals; the listeners go with the last engine.
 *
 * @example
 * releaseSignals(engine)
 */
export function releaseSignals(engine: object): void {
  if (!engines.delete(engine) || engines.size > 0) return
  for (const [signal, listener] of listeners) process.off(signal, listener)
  listeners.clear()
}
