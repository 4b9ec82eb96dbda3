// The hub's ended runs (recent.ts): at most `cap`, at least the last half of them, and those read again.
import test from 'ava'

import { Recent } from '../lib/server/recent'

const kept = (r: Recent<number>, n: number): number[] => Array.from({ length: n }, (_, i) => i).filter((i) => r.has(String(i)))

test('Recent keeps at most cap entries, and at least the last half of them', (t) => {
  const r = new Recent<number>(10)
  for (let i = 0; i < 95; i++) {
    r.set(String(i), i)
    const now = kept(r, i + 1)
    t.true(now.length <= 10, `at most cap after ${i + 1} inserts`)
    for (let j = Math.max(0, i - 4); j <= i; j++) t.true(now.includes(j), `the last 5 kept after ${i + 1} inserts (${j})`)
  }
  t.is(r.get('94'), 94)
  t.is(r.get('0'), undefined)
})

test('Recent: an entry read again outlives the entries set before it was read', (t) => {
  const r = new Recent<number>(8)
  for (let i = 0; i < 6; i++) r.set(String(i), i)
  // '4' and '5' are young, '0'..'3' old: reading '1' moves it to the young generation
  t.is(r.get('1'), 1)
  for (let i = 6; i < 9; i++) r.set(String(i), i)
  t.true(r.has('1'))
  t.false(r.has('0'))
  t.false(r.has('2'))
})
