/**
 * The packages as a user receives them (issue 16): both tarballs packed from
 * a clean copy, installed into projects outside the checkout with npm
 * --prefer-offline (the registry's packages, from npm's cache where it has them; no link to the source
 * tree) and no cargo or rustc on PATH; then used from ESM, CommonJS,
 * TypeScript and the `arcflow` command. A second project lacks the platform
 * package and must get the documented error.
 */
import test from 'ava'
import { spawnSync } from 'node:child_process'
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { expectedPlatformPackage, supportedPlatforms } from '../lib/binding'
import { highestGlibc, packTarballs, root, run, tarballFiles, userEnv, type Tarballs } from './support/packages'

const platformPackage = expectedPlatformPackage()
const platformDir = platformPackage.slice('arcflow-'.length)
const addon = `arcflow.${platformDir}.node`
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string; files: string[] }
const env = userEnv()
const work = mkdtempSync(join(tmpdir(), 'arcflow-install-'))
let tarballs: Tarballs
let full: string
let bare: string

/** The exact versions the checkout resolved, so that npm --offline finds them in its cache. */
function lockedVersion(name: string): string {
  return `${name}@${(JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version}`
}

function project(name: string, specs: string[]): string {
  const dir = join(work, name)
  mkdirSync(dir)
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: `arcflow-user-${name}`, version: '1.0.0', private: true }))
  run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', ...specs], dir, env)
  return dir
}

function node(dir: string, args: string[]) {
  return spawnSync(process.execPath, args, { cwd: dir, env, encoding: 'utf8' })
}

function npx(dir: string, args: string[]) {
  return spawnSync('npx', ['--no-install', 'arcflow', ...args], { cwd: dir, env, encoding: 'utf8' })
}

test.before((t) => {
  t.timeout(8 * 60_000)
  tarballs = packTarballs(work, platformDir, addon)
  full = project('full', [tarballs.root, tarballs.platform, lockedVersion('typescript'), lockedVersion('@types/node')])
  bare = project('bare', [tarballs.root])
})

test.after.always(() => rmSync(work, { recursive: true, force: true }))

// one durable run on SQLite, then read back by a second engine on the same file
const durableRun = (imports: string) => `${imports}
const store = 'sqlite:' + process.argv[2]
const engine = new Engine({ store, durability: 'sync' })
engine.action('double', async ({ n }) => n * 2)
const wf = engine.workflow({ name: 'twice', tasks: { double: { action: 'double', input: { n: '{{ input.n }}' } } }, output: '{{ tasks.double.result }}' })
const started = engine.start(wf, { n: 21 })
started.result().then(async (output) => {
  await engine.close()
  const reader = new Engine({ store })
  const info = await reader.getRun(started.id)
  await reader.close()
  console.log(JSON.stringify({ output, status: info.status, stored: info.output }))
})
`

test('the user has no Rust toolchain on PATH', (t) => {
  for (const tool of ['cargo', 'rustc']) t.is(spawnSync(tool, ['--version'], { env }).error?.message.includes('ENOENT'), true, tool)
})

test('a durable workflow runs from an ESM script', (t) => {
  writeFileSync(join(full, 'durable.mjs'), durableRun("import { Engine } from 'arcflow'"))
  const result = node(full, ['durable.mjs', join(full, 'esm.db')])
  t.is(result.status, 0, result.stderr)
  t.deepEqual(JSON.parse(result.stdout), { output: 42, status: 'succeeded', stored: 42 })
})

test('a durable workflow runs from a CommonJS script', (t) => {
  writeFileSync(join(full, 'durable.cjs'), durableRun("const { Engine } = require('arcflow')"))
  const result = node(full, ['durable.cjs', join(full, 'cjs.db')])
  t.is(result.status, 0, result.stderr)
  t.deepEqual(JSON.parse(result.stdout), { output: 42, status: 'succeeded', stored: 42 })
})

test('the types resolve under tsc --strict, and a misuse is a type error', (t) => {
  writeFileSync(
    join(full, 'check.ts'),
    `import { Engine, NativeBindingError, WorkflowContext } from 'arcflow'
const engine = new Engine({ store: 'sqlite:./typed.db' })
engine.action('double', async ({ n }: { n: number }) => n * 2)
export async function twice(): Promise<number> {
  const wf = engine.workflow({ name: 'twice', tasks: { double: { action: 'double', input: { n: 2 } } } })
  return engine.run<number>(wf, {})
}
export const rendered: unknown = new WorkflowContext({ input: 1 }).render('{{ input }}')
export const expected: string = new NativeBindingError('m', 'arcflow-x').expectedPackage
`,
  )
  writeFileSync(join(full, 'wrong.ts'), `import { Engine } from 'arcflow'\nexport const n: number = new Engine().stats()\n`)
  const tsc = join(full, 'node_modules', 'typescript', 'bin', 'tsc')
  const flags = ['--strict', '--noEmit', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--types', 'node']
  const good = node(full, [tsc, ...flags, 'check.ts'])
  t.is(good.status, 0, good.stdout + good.stderr)
  // the check can fail: a wrong type is reported against arcflow's declarations
  const bad = node(full, [tsc, ...flags, 'wrong.ts'])
  t.is(bad.status, 2, bad.stdout)
  t.regex(bad.stdout, /wrong\.ts.*error TS2322/)
})

test('npx arcflow runs an example workflow', (t) => {
  for (const f of ['flows/hello.yaml', 'hello-actions.mjs', 'hello-input.json']) cpSync(join(root, 'examples', f), join(full, f))
  const result = npx(full, ['run', 'flows/hello.yaml', '--actions', './hello-actions.mjs', '--input', '@hello-input.json', '--json', '--store', 'sqlite:./cli.db'])
  t.is(result.status, 0, result.stderr)
  const last = JSON.parse(result.stdout.trim().split('\n').pop()!) as { type: string; output: unknown }
  t.is(last.type, 'output')
  t.regex(JSON.stringify(last.output), /HELLO ADA.*HELLO GRACE.*HELLO LINUS/)
})

// glibc is a Linux gnu binary's question only: on macOS or Windows there is no such test (CI runs on linux-x64-gnu)
const glibcTest = platformDir.startsWith('linux-') && platformDir.endsWith('-gnu') ? test : test.skip
glibcTest('the platform binary needs glibc 2.17 at most', (t) => {
  const [major, minor] = highestGlibc(join(full, 'node_modules', platformPackage, addon))
  t.true(major < 2 || (major === 2 && minor <= 17), `needs GLIBC_${major}.${minor}`)
})

test('the root tarball holds only the documented files', (t) => {
  // the list the README's "Install" section documents; npm adds package.json and README.md
  const allowed = [/^package\.json$/, /^README\.md$/, /^bin\/arcflow\.js$/, /^lib\/native\.js$/, /^workflow\.schema\.json$/, /^dist\/.+\.(js|mjs|d\.ts)$/]
  const files = tarballFiles(tarballs.root)
  t.deepEqual(files.filter((f) => !allowed.some((re) => re.test(f))), [])
  for (const needed of ['bin/arcflow.js', 'lib/native.js', 'dist/index.js', 'dist/index.mjs', 'dist/index.d.ts', 'dist/native.d.ts', 'dist/cli/main.js']) {
    t.true(files.includes(needed), needed)
  }
  t.deepEqual(pkg.files, ['bin', 'dist', 'lib/native.js', 'workflow.schema.json'])
  t.deepEqual(tarballFiles(tarballs.platform), [addon, 'README.md', 'package.json'].sort())
})

test('without the platform package, importing arcflow gives the documented error', (t) => {
  const script = `try { require('arcflow') } catch (e) {
    const causes = []
    for (let c = e.cause; c; c = c.cause) causes.push(c.message)
    console.log(JSON.stringify({ name: e.name, code: e.code, expected: e.expectedPackage, message: e.message, causes, printed: require('node:util').inspect(e).split('\\n').length }))
  }`
  const result = node(bare, ['-e', script])
  t.is(result.status, 0, result.stderr)
  const out = JSON.parse(result.stdout) as { name: string; code: string; expected: string; message: string; causes: string[]; printed: number }
  t.is(out.name, 'NativeBindingError')
  t.is(out.code, 'ARCFLOW_NATIVE_BINDING')
  t.is(out.expected, platformPackage)
  const lines = out.message.split('\n')
  t.true(lines.length <= 5, out.message)
  t.true(lines[0]!.includes(`detected ${process.platform}-${process.arch}`), lines[0])
  t.true(lines[0]!.includes(`expected the package '${platformPackage}'`), lines[0])
  t.true(lines.some((l) => l.includes(`npm install ${platformPackage}`)), out.message)
  t.true(lines.some((l) => l.includes('build from source') && l.includes(supportedPlatforms().join(', '))), out.message)
  t.notRegex(out.message, /build:native|package-lock|remove/)
  // every load error is a cause: the addon beside the loader and the package, at least
  t.true(out.causes.some((c) => c.includes(`./${addon}`)), JSON.stringify(out.causes))
  t.true(out.causes.some((c) => c.includes(`'${platformPackage}'`)), JSON.stringify(out.causes))
  t.false(out.causes.some((c) => c.includes('Cannot find native binding')), JSON.stringify(out.causes))
  // printed whole (stack and causes) it stays short: today's was about 86 lines
  t.true(out.printed < 40, `${out.printed} lines`)
})

test('without the platform package, arcflow --help and --version work and run says what to do', (t) => {
  const help = npx(bare, ['--help'])
  t.is(help.status, 0, help.stderr)
  t.regex(help.stdout, /Usage: arcflow/)
  const version = npx(bare, ['--version'])
  t.is(version.status, 0, version.stderr)
  t.is(version.stdout.trim(), pkg.version)
  writeFileSync(join(bare, 'flow.json'), JSON.stringify({ name: 'one', tasks: { a: { action: 'core.echo', input: 1 } } }))
  const result = npx(bare, ['run', 'flow.json', '--store', 'memory'])
  t.is(result.status, 1, result.stdout)
  t.true(result.stderr.startsWith(`arcflow: arcflow has no loadable native binary`), result.stderr)
  t.true(result.stderr.includes(`npm install ${platformPackage}`), result.stderr)
  t.true(result.stderr.trim().split('\n').length <= 5, result.stderr)
})

test('the supported platforms are the declared targets, each with its package directory', (t) => {
  const platforms = supportedPlatforms()
  t.deepEqual(platforms, ['linux-x64-gnu', 'linux-x64-musl', 'linux-arm64-gnu', 'darwin-arm64', 'darwin-x64', 'win32-x64-msvc'])
  for (const dir of platforms) {
    const platform = JSON.parse(readFileSync(join(root, 'npm', dir, 'package.json'), 'utf8')) as { name: string; version: string }
    t.is(platform.name, `arcflow-${dir}`)
    t.is(platform.version, pkg.version)
  }
})
