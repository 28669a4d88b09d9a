// Makes the fresh consumer project outside the repo and installs into it, in
// one `npm install`, the packed tarball plus the tools a consumer tests with
// (ws, typescript, jest, ava, vitest). The install runs without a Rust
// toolchain on PATH: the published package must not need one.

import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { runCommand, describeEnd } from './command.mjs'
import { note, record } from './checks.mjs'
import { rustToolsOn } from './environment.mjs'

const TEMPLATE = fileURLToPath(new URL('../fixtures/project/', import.meta.url))
// Downloads the dev tools on a cold npm cache; about 40 s on a warm one.
const INSTALL_TIMEOUT_MS = 360_000

/** Copies the template project to `directory` and points it at `tarball`. */
export function createProject(directory, tarball) {
  fs.cpSync(TEMPLATE, directory, { recursive: true })
  const manifestPath = path.join(directory, 'package.json')
  const manifest = JSON.parse(fs.readFileSync(manifestPath, 'utf8'))
  manifest.dependencies.websocketstream = `file:${tarball}`
  fs.writeFileSync(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`)
}

/** Installs the project's dependencies; records the check and returns whether it worked. */
export async function installProject(directory, env) {
  const leftovers = rustToolsOn(env.PATH)
  if (leftovers.length > 0) {
    record('install without a Rust toolchain', false, 'could not take Rust off PATH', leftovers.join('\n'))
    return false
  }
  // `npm install`, not `npm ci`: there is no lock file, and this registry
  // mirror lacks some other platforms' optional packages of the dev tools.
  const args = ['install', '--no-audit', '--no-fund', '--no-package-lock']
  const result = await runCommand('npm', args, { cwd: directory, env, timeoutMs: INSTALL_TIMEOUT_MS })

  const installed = path.join(directory, 'node_modules', 'websocketstream')
  const problems = []
  if (result.code !== 0 || result.timedOut) problems.push(`npm install: ${describeEnd(result, INSTALL_TIMEOUT_MS)}`)
  else {
    if (!fs.readdirSync(installed).some((name) => name.endsWith('.node'))) problems.push('no .node binary installed')
    // A build attempted at install time would have left these behind.
    for (const built of ['target', 'src']) {
      if (fs.existsSync(path.join(installed, built))) problems.push(`${built}/ appeared in the installed package`)
    }
  }
  record(
    'install the tarball without a Rust toolchain (cargo, rustc off PATH)',
    problems.length === 0,
    problems.length ? problems.join('; ') : `${(result.ms / 1000).toFixed(1)} s`,
    result.output,
  )
  // npm 11 lists dependencies whose lifecycle scripts nobody approved (for a
  // file: or tarball source that includes `prepare`, which npm lists but does
  // not run for a packed tarball). Show ours: consumers see the same warning.
  const scriptWarning = result.output.split('\n').find((line) => /install-scripts\s+websocketstream@/.test(line))
  if (scriptWarning)
    note(`npm listed a script of ours as unapproved: ${scriptWarning.replace(/^npm warn install-scripts\s+/, '')}`)
  return problems.length === 0
}
