// kill -9 during a wait or a sleep, then resume, on a real PostgreSQL
// cluster (the scenarios of waits-crash.spec.ts: scenarios/waits.ts).
import test from 'ava'

import { signalWhileDown, sleepKeepsItsDueTime, timeoutNotRestarted, waitKeepsWaiting } from './scenarios/waits'
import { parkedIsWaiting, stormCoalesced, stormLeavesNoWaiting } from './scenarios/waiting-status'
import { usePostgres } from './support/postgres'

const pg = usePostgres(test)

test.serial('postgres: kill -9 during a wait, signal while no process holds the run, resume: the wait takes it', (t) => signalWhileDown(t, pg.url()))
test.serial('postgres: kill -9 during a wait, resume: the run waits again, a signal then ends the wait', (t) => waitKeepsWaiting(t, pg.url()))
test.serial('postgres: kill -9 during a wait, resume past its deadline: the timeout counts from when the wait began', (t) => timeoutNotRestarted(t, pg.url()))
test.serial('postgres: kill -9 during a sleep, resume: it ends at its original due time', (t) => sleepKeepsItsDueTime(t, pg.url()))
test.serial('postgres: a parked run is listed waiting, a busy one running, and back to running when the signal comes', (t) => parkedIsWaiting(t, pg.url()))
test.serial('postgres: a signal storm ends succeeded with no waiting status left behind', (t) => stormLeavesNoWaiting(t, pg.url()))
test.serial('postgres: a 300-signal storm taken one item at a time writes the waiting status at most once per settle window', (t) => stormCoalesced(t, pg.url()))
