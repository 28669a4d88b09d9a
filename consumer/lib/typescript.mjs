// The TypeScript checks: the installed package's types as a consumer's
// `tsc --strict` sees them, under the two module resolutions projects use.
// Correct code (types/usage.mts, usage.cts, global.mts) must compile; the
// deliberate misuses of types/wrong.mts must fail with exactly the errors its
// `// error TSxxxx` comments announce.

import fs from 'node:fs'
import path from 'node:path'
import { runCommand, describeEnd } from './command.mjs'
import { record } from './checks.mjs'

const RESOLUTIONS = {
  // A Node service: Node's own resolution, no DOM.
  node16: ['--module', 'node16', '--moduleResolution', 'node16', '--lib', 'es2022'],
  // Code for a bundler: TypeScript's default lib, which includes the DOM.
  bundler: ['--module', 'preserve', '--moduleResolution', 'bundler'],
}
// skipLibCheck false: the package's own .d.ts files must type-check too.
const COMMON = [
  '--strict',
  '--noEmit',
  '--pretty',
  'false',
  '--target',
  'es2022',
  '--types',
  'node',
  '--skipLibCheck',
  'false',
]
const CORRECT_FILES = ['types/usage.mts', 'types/usage.cts', 'types/global.mts']
const WRONG_FILE = 'types/wrong.mts'
const TIMEOUT_MS = 120_000

/** tsc's `file(line,col): error TSnnnn: message` lines, with their continuation lines. */
function parseErrors(output) {
  const errors = []
  for (const line of output.split('\n')) {
    const match = /^(.+?)\((\d+),(\d+)\): error (TS\d+): /.exec(line)
    if (match) errors.push({ file: match[1], line: Number(match[2]), code: match[4], text: line })
    else if (errors.length > 0 && line.startsWith(' ')) errors.at(-1).text += `\n${line}`
  }
  return errors
}

/** The errors wrong.mts announces: `line TSnnnn` for each `// error TSnnnn` comment. */
function announcedErrors(file) {
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .flatMap((text, index) => [...text.matchAll(/\/\/ error (TS\d+)/g)].map((match) => `${index + 1} ${match[1]}`))
}

function tsc(projectDirectory, env, resolution, files) {
  const compiler = path.join(projectDirectory, 'node_modules', 'typescript', 'bin', 'tsc')
  return runCommand(process.execPath, [compiler, ...COMMON, ...RESOLUTIONS[resolution], ...files], {
    cwd: projectDirectory,
    env,
    timeoutMs: TIMEOUT_MS,
  })
}

export async function typeScriptChecks(projectDirectory, env) {
  for (const resolution of Object.keys(RESOLUTIONS)) {
    const correct = await tsc(projectDirectory, env, resolution, CORRECT_FILES)
    const errors = parseErrors(correct.output)
    const broken = correct.timedOut || (correct.code !== 0 && errors.length === 0)
    for (const file of CORRECT_FILES) {
      const own = errors.filter((error) => error.file === file)
      record(
        `tsc --strict, moduleResolution ${resolution}: ${path.basename(file)} compiles`,
        !broken && own.length === 0,
        broken ? describeEnd(correct, TIMEOUT_MS) : own.length ? `${own.length} error(s)` : '',
        broken ? correct.output : own.map((error) => error.text).join('\n'),
      )
    }
    const elsewhere = errors.filter((error) => !CORRECT_FILES.includes(error.file))
    record(
      `tsc --strict, moduleResolution ${resolution}: the package's .d.ts files type-check`,
      !broken && elsewhere.length === 0,
      elsewhere.length ? `${elsewhere.length} error(s)` : '',
      elsewhere.map((error) => error.text).join('\n'),
    )

    const wrong = await tsc(projectDirectory, env, resolution, [WRONG_FILE])
    const expected = announcedErrors(path.join(projectDirectory, WRONG_FILE)).sort()
    const actual = parseErrors(wrong.output)
      .map((error) => (error.file === WRONG_FILE ? `${error.line} ${error.code}` : `${error.file}: ${error.code}`))
      .sort()
    const missing = expected.filter((error) => !actual.includes(error))
    const extra = actual.filter((error) => !expected.includes(error))
    const failsAsAnnounced = !wrong.timedOut && wrong.code !== 0 && missing.length === 0 && extra.length === 0
    const why = [
      wrong.code === 0 ? 'compiled without error' : `exit code ${wrong.code}`,
      missing.length ? `missing: line ${missing.join(', line ')}` : '',
      extra.length ? `unexpected: ${extra.join(', ')}` : '',
    ]
    record(
      `tsc --strict, moduleResolution ${resolution}: ${path.basename(WRONG_FILE)} fails with the ${expected.length} expected errors`,
      failsAsAnnounced,
      why.filter(Boolean).join('; '),
      wrong.output,
    )
  }
}
