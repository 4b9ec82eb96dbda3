// kill -9 during a wait or a sleep, then resume, on SQLite (the scenarios: scenarios/waits.ts).
import test from 'ava'

import { dbUrl, signalWhileDown, sleepKeepsItsDueTime, timeoutNotRestarted, waitKeepsWaiting } from './scenarios/waits'

test('kill -9 during a wait, signal while no process holds the run, resume: the wait takes it, earlier tasks do not re-run', (t) => signalWhileDown(t, dbUrl()))
test('kill -9 during a wait, resume: the run waits again, and a signal then ends the wait', (t) => waitKeepsWaiting(t, dbUrl()))
test('kill -9 during a wait, resume past its deadline: the timeout counts from when the wait began', (t) => timeoutNotRestarted(t, dbUrl()))
test('kill -9 during a sleep, resume: it ends at its original due time', (t) => sleepKeepsItsDueTime(t, dbUrl()))
