// The built-in actions outside the CLI: one YAML file runs in both.
import test from 'ava'
import { join } from 'node:path'

import { BUILTIN_ACTION_NAMES, builtinActions, Engine } from '../lib/index'

const fixtures = join(__dirname, 'fixtures', 'cli')

test("new Engine() said action 'core.echo' is not registered: builtins: true runs the CLI's workflow files", async (t) => {
  t.throws(() => new Engine().load(join(fixtures, 'long-output.yaml')), { message: /action 'core\.echo' is not registered/ })
  const engine = new Engine({ builtins: true })
  t.deepEqual(await engine.run(engine.load(join(fixtures, 'long-output.yaml'))), { text: 'x'.repeat(300) })
  // shell.exec only when asked for
  t.throws(() => engine.load(join(fixtures, 'shell.yaml')), { message: /action 'shell\.exec' is not registered/ })
  const shell = new Engine({ builtins: { shell: true } })
  t.is(await shell.run(shell.load(join(fixtures, 'shell.yaml'))), 'hello from the shell')
})

test('builtinActions: the same actions, to register by hand; shell.exec only with { shell: true }', (t) => {
  t.deepEqual(Object.keys(builtinActions()), ['core.echo', 'core.sleep', 'core.fail', 'http.request'])
  t.deepEqual(Object.keys(builtinActions({ shell: true })), [...BUILTIN_ACTION_NAMES])
})
