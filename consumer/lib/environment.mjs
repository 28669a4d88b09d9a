// The environment every command of the consumer test runs in: a consumer's
// shell, not the repo's. Three things differ from process.env:
// - no Rust toolchain on PATH: a consumer of the published package has none,
//   so installing and running it must not need one;
// - none of the npm_* variables `npm run test:consumer` sets (they describe
//   the repo's package and would leak into the temp project's npm commands),
//   except those that say where packages come from;
// - loopback traffic never goes through a proxy configured on the machine.

import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

const RUST_TOOLS = ['cargo', 'rustc', 'rustup']
// npm settings that point at the registry, its certificates and the cache:
// a consumer's npm has them too (from ~/.npmrc, which stays in force anyway).
const KEPT_NPM_VARIABLES = new Set([
  'npm_config_registry',
  'npm_config_cache',
  'npm_config_cafile',
  'npm_config_userconfig',
  'npm_config_globalconfig',
])

function hasRustTool(directory) {
  return RUST_TOOLS.some((tool) => fs.existsSync(path.join(directory, tool)))
}

/** PATH without ~/.cargo/bin and without any other directory holding cargo, rustc or rustup. */
export function pathWithoutRust(pathValue = process.env.PATH ?? '') {
  const cargoBin = path.join(process.env.CARGO_HOME ?? path.join(os.homedir(), '.cargo'), 'bin')
  return pathValue
    .split(path.delimiter)
    .filter((directory) => directory && path.resolve(directory) !== cargoBin && !hasRustTool(directory))
    .join(path.delimiter)
}

/** The Rust tools still reachable on `pathValue` (should be none). */
export function rustToolsOn(pathValue) {
  return pathValue
    .split(path.delimiter)
    .flatMap((directory) => RUST_TOOLS.map((tool) => path.join(directory, tool)))
    .filter((file) => fs.existsSync(file))
}

/** process.env as a consumer's shell would have it, plus `extra`. */
export function consumerEnv(extra = {}) {
  const env = {}
  for (const [name, value] of Object.entries(process.env)) {
    const lower = name.toLowerCase()
    if (lower.startsWith('npm_') && !KEPT_NPM_VARIABLES.has(lower)) continue
    if (name === 'INIT_CWD' || name === 'FORCE_COLOR') continue
    env[name] = value
  }
  env.PATH = pathWithoutRust(env.PATH)
  const noProxy = [env.NO_PROXY ?? env.no_proxy, '127.0.0.1', 'localhost'].filter(Boolean).join(',')
  env.NO_PROXY = env.no_proxy = noProxy
  env.NO_COLOR = '1' // plain output, so the checks can read it (FORCE_COLOR, even 0, makes vitest colour)
  return { ...env, ...extra }
}
