import test from 'ava'
import { execFileSync, spawnSync } from 'node:child_process'
import { cpSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { bindingError, expectedPlatformPackage } from '../lib/binding'

const root = join(__dirname, '..')

function node(args: string[], cwd = root): string {
  return execFileSync(process.execPath, args, { cwd, encoding: 'utf8' }).trim()
}

test('the package loads from CommonJS by its name', (t) => {
  const out = node(['-e', "const { WorkflowContext } = require('arcflow'); console.log(new WorkflowContext({ input: 2 }).render('{{ input * 21 }}'))"])
  t.is(out, '42')
})

test('the package loads from ESM by its name, with named exports', (t) => {
  const out = node([
    '--input-type=module',
    '-e',
    "import { WorkflowContext, ExpressionError } from 'arcflow'; const c = new WorkflowContext({ input: 'a' }); try { c.render('{{ +') } catch (e) { console.log(c.render('{{ input }}'), e instanceof ExpressionError) }",
  ])
  t.is(out, 'a true')
})

test('the published types check in a consumer (TypeScript, node16 resolution)', (t) => {
  const result = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', join(root, '__test__', 'fixtures', 'tsconfig.json')], {
    encoding: 'utf8',
  })
  t.is(result.status, 0, result.stdout + result.stderr)
})

test('without a loadable binary the error names the platform package and chains every load error', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'arcflow-nobinary-'))
  try {
    cpSync(join(root, 'dist'), join(dir, 'dist'), { recursive: true })
    cpSync(join(root, 'lib', 'native.js'), join(dir, 'lib', 'native.js'))
    cpSync(join(root, 'package.json'), join(dir, 'package.json'))
    const script = `
      try { require('./dist/index.js') } catch (e) {
        const causes = []
        for (let c = e.cause; c; c = c.cause) causes.push(c.message)
        console.log(JSON.stringify({ name: e.name, code: e.code, expected: e.expectedPackage, message: e.message, causes }))
      }`
    const out = JSON.parse(node(['-e', script], dir)) as { name: string; code: string; expected: string; message: string; causes: string[] }
    const expected = expectedPlatformPackage()
    t.is(out.name, 'NativeBindingError')
    t.is(out.code, 'ARCFLOW_NATIVE_BINDING')
    t.is(out.expected, expected)
    t.true(out.message.includes(`'${expected}'`), out.message)
    t.true(out.causes.length >= 2, JSON.stringify(out.causes))
    // the loader's own wrapper (advice for a checkout, not an installed package) is left out
    t.false(out.causes.some((c) => c.includes('Cannot find native binding')), JSON.stringify(out.causes))
    t.true(out.causes.some((c) => c.includes(expected)), JSON.stringify(out.causes))
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('platform package names follow @napi-rs/cli', (t) => {
  t.is(expectedPlatformPackage('linux', 'x64', false), 'arcflow-linux-x64-gnu')
  t.is(expectedPlatformPackage('linux', 'x64', true), 'arcflow-linux-x64-musl')
  t.is(expectedPlatformPackage('linux', 'arm64', false), 'arcflow-linux-arm64-gnu')
  t.is(expectedPlatformPackage('darwin', 'arm64', false), 'arcflow-darwin-arm64')
  t.is(expectedPlatformPackage('win32', 'x64', false), 'arcflow-win32-x64-msvc')
  t.is(expectedPlatformPackage('linux', 'arm64', true), 'arcflow-linux-arm64-musl')
  // the platform packages are written into optionalDependencies at release (napi prepublish), not before:
  // unpublished, they would make `npm ci` refuse the lock file
  t.is((require('../package.json') as { optionalDependencies?: unknown }).optionalDependencies, undefined)
})

test('the load error on a platform with no published binary (linux arm64 musl) lists the supported ones', (t) => {
  const loader = new Error('Cannot find native binding.', { cause: new Error("Cannot find module './arcflow.linux-arm64-musl.node'", { cause: new Error("Cannot find module 'arcflow-linux-arm64-musl'") }) })
  const error = bindingError(loader, 'linux', 'arm64', true)
  t.is(error.code, 'ARCFLOW_NATIVE_BINDING')
  t.is(error.expectedPackage, 'arcflow-linux-arm64-musl')
  t.is(
    error.message,
    [
      "arcflow has no loadable native binary for this platform: detected linux-arm64 (musl), expected the package 'arcflow-linux-arm64-musl'.",
      'No prebuilt binary is published for this platform.',
      'Prebuilt binaries: linux-x64-gnu, linux-x64-musl, linux-arm64-gnu, darwin-arm64, darwin-x64, win32-x64-msvc; elsewhere, or in a clone of the arcflow repository, build from source: npm run build (see "Contributing" in its README).',
      "(2 load errors chained as 'cause')",
    ].join('\n'),
  )
  const causes: string[] = []
  for (let c = error.cause as Error | undefined; c; c = c.cause as Error | undefined) causes.push(c.message)
  t.deepEqual(causes, ["Cannot find module './arcflow.linux-arm64-musl.node'", "Cannot find module 'arcflow-linux-arm64-musl'"])
})

test('the load error for a binary that is there but does not load (too old a glibc) shows its loader error', (t) => {
  const loader = new Error('Cannot find native binding.', {
    cause: new Error("/lib64/libc.so.6: version `GLIBC_2.34' not found (required by arcflow.linux-arm64-gnu.node)", { cause: new Error("Cannot find module 'arcflow-linux-arm64-gnu'") }),
  })
  const lines = bindingError(loader, 'linux', 'arm64', false).message.split('\n')
  t.is(lines[1], "A binary was found but failed to load: /lib64/libc.so.6: version `GLIBC_2.34' not found (required by arcflow.linux-arm64-gnu.node)")
  t.is(lines[2], 'To fix: npm install arcflow-linux-arm64-gnu (npm installs it with arcflow unless optional dependencies are omitted: --omit=optional, --no-optional).')
})
