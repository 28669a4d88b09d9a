'use strict'
// Runs at `npm install` in a checkout (the `prepare` script, which npm does
// not run for a package installed as a dependency) and before `npm test`:
// builds the native addon in release mode when it is missing or older than
// the Rust sources.

const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const root = path.join(__dirname, '..')
const binaryPattern = /^websocketstream\..+\.node$/

function newestMtime(entry) {
  const stat = fs.statSync(entry)
  if (!stat.isDirectory()) return stat.mtimeMs
  return Math.max(0, ...fs.readdirSync(entry).map((name) => newestMtime(path.join(entry, name))))
}

const binaries = fs.readdirSync(root).filter((name) => binaryPattern.test(name))
const loaderPresent = fs.existsSync(path.join(root, 'binding.js'))

const sourcesChanged = Math.max(
  ...['src', 'Cargo.toml', 'Cargo.lock', 'build.rs'].map((entry) => newestMtime(path.join(root, entry))),
)
const upToDate = loaderPresent && binaries.some((name) => fs.statSync(path.join(root, name)).mtimeMs >= sourcesChanged)
if (upToDate) process.exit(0)

if (!fs.existsSync(path.join(root, 'node_modules', '@napi-rs', 'cli'))) {
  console.error(
    'websocketstream: the native addon is not built and @napi-rs/cli is not installed. ' +
      'Run `npm install` in the package directory (a Rust toolchain is needed: https://rustup.rs).',
  )
  process.exit(1)
}
console.error('websocketstream: building the native addon (npm run build)…')
const build = spawnSync('npm', ['run', 'build'], {
  cwd: root,
  stdio: 'inherit',
  shell: process.platform === 'win32',
})
process.exit(build.status ?? 1)
