// The wire between the engine and the core, tested as a pair: what
// lib/engine/protocol.ts packs, the core unpacks to the same numbers, and
// the codes the engine reads are the core's #[napi] enums.
import test from 'ava'

import { native } from '../lib/binding'
import { AnswerKind, completeOp, InputKind, STATUS_CODE, StatusCode, unit } from '../lib/engine/protocol'

test('the core unpacks an execution unit as the engine packs it, at every bound', (t) => {
  for (const [task, step, attempt] of [[0, 0, 1], [3, 7, 2], [65_535, 1_000_000, 10_001], [1, 1_048_575, 65_535]]) {
    t.deepEqual(native.protocolUnpack('unit', unit(task!, step!, attempt!)), [task, step, attempt])
  }
})

test('the core unpacks a completion as the engine packs it', (t) => {
  for (const [handle, task, status, follow, idle] of [[0, 0, StatusCode.Succeeded, true, true], [4_294_967_295, 65_535, StatusCode.TimedOut, false, true], [7, 3, StatusCode.Failed, true, false]] as const) {
    t.deepEqual(native.protocolUnpack('complete', completeOp(handle, task, status, follow, idle)), [handle, task, status, follow ? 1 : 0, idle ? 1 : 0])
  }
})

test('a packing that is not an exact whole number is refused, not misread', (t) => {
  for (const bad of [-1, 0.5, Number.NaN, Infinity, 2 ** 53]) {
    t.throws(() => native.protocolUnpack('unit', bad), { message: /bad execution/ })
  }
})

test('the codes are the core enums, the same at run time as in the types', (t) => {
  t.deepEqual({ ...native.AnswerKind }, { ...native.AnswerKind, Schedule: AnswerKind.Schedule, StepLimit: AnswerKind.StepLimit, Complete: AnswerKind.Complete })
  t.is(native.InputKind.Uncovered, InputKind.Uncovered)
  t.deepEqual(STATUS_CODE, { succeeded: native.StatusCode.Succeeded, failed: native.StatusCode.Failed, timed_out: native.StatusCode.TimedOut })
})

test('a flow crosses to runStart as its number: given once sealed, the same each time, distinct per flow', (t) => {
  const building = new native.NativeFlow('a')
  t.throws(() => building.register(), { message: /not sealed/ })
  building.seal()
  const other = new native.NativeFlow('b')
  other.seal()
  const id = building.register()
  t.true(id > 0)
  t.is(building.register(), id)
  t.not(other.register(), id)
  t.throws(() => native.runStart(0, 4_000_000_001, null, 'r-no-flow', Date.now(), null, null, null, null), { message: /no flow 0 is registered/ })
  t.is(native.liveRunCount(), 0)
})
