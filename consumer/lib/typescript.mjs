// The TypeScript checks: the installed package's types as a consumer's
// `tsc --strict` sees them, in four projects whose settings change what the
// types must fit: Node's module resolution without the DOM, a bundler's
// (TypeScript's default lib, DOM included), `lib: ["dom", "es2022"]` (code
// shared with browsers, where ReadableStream is lib.dom's) and
// `exactOptionalPropertyTypes`. In each, the correct files must compile, and
// the deliberate misuses of types/wrong.mts must fail with exactly the errors
// its `// error TSxxxx` comments announce.

import fs from 'node:fs'
import path from 'node:path'
import { runCommand, describeEnd } from './command.mjs'
import { record } from './checks.mjs'

const NODE16 = ['--module', 'node16', '--moduleResolution', 'node16']
const PROJECTS = {
  // A Node service: Node's own resolution, no DOM.
  'moduleResolution node16': [...NODE16, '--lib', 'es2022'],
  // Code for a bundler: TypeScript's default lib, which includes the DOM
  // (and dom.iterable, dom.asynciterable).
  'moduleResolution bundler': ['--module', 'preserve', '--moduleResolution', 'bundler'],
  // Code shared with browsers: lib.dom's streams, without dom.asynciterable.
  'lib ["dom", "es2022"]': [...NODE16, '--lib', 'dom,es2022'],
  // An absent optional member differs from one present but undefined.
  exactOptionalPropertyTypes: [...NODE16, '--lib', 'es2022', '--exactOptionalPropertyTypes'],
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
// Every project compiles every correct file: shared-streams.mts matters most
// with the DOM, exact-optional.mts with exactOptionalPropertyTypes, but each
// must compile under any of these settings.
const CORRECT_FILES = [
  'types/usage.mts',
  'types/usage.cts',
  'types/global.mts',
  'types/shared-streams.mts',
  'types/exact-optional.mts',
]
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

function tsc(projectDirectory, env, project, files) {
  const compiler = path.join(projectDirectory, 'node_modules', 'typescript', 'bin', 'tsc')
  return runCommand(process.execPath, [compiler, ...COMMON, ...PROJECTS[project], ...files], {
    cwd: projectDirectory,
    env,
    timeoutMs: TIMEOUT_MS,
  })
}

export async function typeScriptChecks(projectDirectory, env) {
  for (const project of Object.keys(PROJECTS)) {
    const correct = await tsc(projectDirectory, env, project, CORRECT_FILES)
    const errors = parseErrors(correct.output)
    const broken = correct.timedOut || (correct.code !== 0 && errors.length === 0)
    for (const file of CORRECT_FILES) {
      const own = errors.filter((error) => error.file === file)
      record(
        `tsc --strict, ${project}: ${path.basename(file)} compiles`,
        !broken && own.length === 0,
        broken ? describeEnd(correct, TIMEOUT_MS) : own.length ? `${own.length} error(s)` : '',
        broken ? correct.output : own.map((error) => error.text).join('\n'),
      )
    }
    const elsewhere = errors.filter((error) => !CORRECT_FILES.includes(error.file))
    record(
      `tsc --strict, ${project}: the package's .d.ts files type-check`,
      !broken && elsewhere.length === 0,
      elsewhere.length ? `${elsewhere.length} error(s)` : '',
      elsewhere.map((error) => error.text).join('\n'),
    )

    const wrong = await tsc(projectDirectory, env, project, [WRONG_FILE])
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
      `tsc --strict, ${project}: ${path.basename(WRONG_FILE)} fails with the ${expected.length} expected errors`,
      failsAsAnnounced,
      why.filter(Boolean).join('; '),
      wrong.output,
    )
  }
}
