// kill -9 during a child run, then resume the parent, on SQLite (scenarios/subflows.ts).
import test from 'ava'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { childNotRerun } from './scenarios/subflows'

test('kill -9 during a child run, then resume: the completed child is not re-run, the interrupted one is resumed', (t) =>
  childNotRerun(t, `sqlite:${join(mkdtempSync(join(tmpdir(), 'arcflow-subcrash-')), 'a.db')}`))
