/**
 * The release workflow cannot run here (GitHub runners, secrets): its syntax,
 * expressions, job graph and action inputs are checked with actionlint
 * (rhysd/actionlint, the maintained linter for GitHub Actions), built once
 * from its Go module into target/tools/.
 */
import test from 'ava'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const root = join(__dirname, '..')
const ACTIONLINT = 'github.com/rhysd/actionlint/cmd/actionlint@v1.7.12'
const bin = join(root, 'target', 'tools', 'actionlint')
const workflow = join(root, '.github', 'workflows', 'release.yml')

test.before((t) => {
  t.timeout(5 * 60_000)
  if (existsSync(bin)) return
  const built = spawnSync('go', ['install', ACTIONLINT], { env: { ...process.env, GOBIN: join(root, 'target', 'tools') }, encoding: 'utf8' })
  if (built.error || built.status !== 0) throw new Error(`go install ${ACTIONLINT} failed (Go is needed for this test): ${built.error?.message ?? built.stderr}`)
})

function lint(file: string) {
  return spawnSync(bin, ['-no-color', file], { cwd: root, encoding: 'utf8' })
}

test('the release workflow passes actionlint', (t) => {
  const result = lint(workflow)
  t.is(result.status, 0, result.stdout + result.stderr)
})

test('actionlint refuses a broken copy of it (the check can fail)', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'arcflow-actionlint-'))
  try {
    const broken = join(dir, 'release.yml')
    // a job that needs one that does not exist, and an unknown matrix key
    writeFileSync(broken, readFileSync(workflow, 'utf8').replace('needs: [test-native, test-containers]', 'needs: [test-nowhere]').replace('${{ matrix.settings.build }}', '${{ matrix.settings.nope }}'))
    const result = lint(broken)
    t.is(result.status, 1, result.stdout + result.stderr)
    t.regex(result.stdout, /test-nowhere/)
    t.regex(result.stdout, /nope/)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('the workflow builds every declared target and publishes with provenance', (t) => {
  const text = readFileSync(workflow, 'utf8')
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { napi: { targets: string[] } }
  for (const target of pkg.napi.targets) t.regex(text, new RegExp(`target: ${target}\\n\\s+build: `), target)
  t.regex(text, /id-token: write/)
  t.regex(text, /npm config set provenance true/)
  t.regex(text, /napi prepublish -t npm/)
})
