// The run's `waiting` status through an SQLite store (scenarios/waiting-status.ts).
import test from 'ava'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { parkedIsWaiting, stormCoalesced, stormLeavesNoWaiting } from './scenarios/waiting-status'

const dbUrl = (): string => `sqlite:${join(mkdtempSync(join(tmpdir(), 'arcflow-wstatus-')), 'a.db')}`

test('sqlite: a parked run is listed waiting, a busy one running, and back to running when the signal comes', (t) => parkedIsWaiting(t, dbUrl()))
test('sqlite: a signal storm ends succeeded with no waiting status left behind', (t) => stormLeavesNoWaiting(t, dbUrl()))
test('sqlite: a 300-signal storm taken one item at a time writes the waiting status at most once per settle window', (t) => stormCoalesced(t, dbUrl()))
