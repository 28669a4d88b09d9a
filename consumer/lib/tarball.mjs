// Packs the package as `npm publish` would and checks what a consumer gets:
// every file the package needs at run time and for its types, and nothing
// else (no tests, no Rust sources, no build output, no benchmarks).

import fs from 'node:fs'
import path from 'node:path'
import { runCommand, describeEnd } from './command.mjs'
import { note, record } from './checks.mjs'

// What may be in the tarball, and why a consumer needs it.
const ALLOWED = [
  [/^package\.json$/, 'the manifest'],
  [/^README\.md$/, 'documentation'],
  [/^LICENSE$/, 'the license'],
  [/^(index|global)\.(js|mjs|d\.ts)$/, 'the wrapper and its types'],
  [/^lib\/[^/]+\.js$/, "the wrapper's modules"],
  [/^binding\.(js|d\.ts)$/, 'the loader napi-rs generates'],
  [/^websocketstream\.[a-z0-9-]+\.node$/, 'the native addon'],
  [/^bin\/[^/]+\.js$/, 'the command'],
  [/^scripts\/build-if-needed\.js$/, 'the install script'],
]

// What must be there whatever else changes.
const REQUIRED = [
  'package.json',
  'README.md',
  'LICENSE',
  'index.js',
  'index.mjs',
  'index.d.ts',
  'global.js',
  'global.mjs',
  'global.d.ts',
  'binding.js',
  'binding.d.ts',
  'websocketstream.linux-x64-gnu.node',
]

const TIMEOUT_MS = 120_000

function kib(bytes) {
  return `${(bytes / 1024).toFixed(1)} KiB`
}

/** Files the packed package.json itself names: entry points, types, bin, install scripts. */
function filesNamedBy(manifest) {
  const named = new Set()
  const add = (file) => typeof file === 'string' && named.add(path.posix.normalize(file))
  add(manifest.main)
  add(manifest.types)
  const walk = (target) => {
    if (typeof target === 'string') add(target)
    else if (target && typeof target === 'object') Object.values(target).forEach(walk)
  }
  walk(manifest.exports)
  walk(typeof manifest.bin === 'string' ? manifest.bin : (manifest.bin ?? {}))
  // A lifecycle script run at install time on the consumer's machine must find its file.
  for (const hook of ['preinstall', 'install', 'postinstall']) {
    const script = manifest.scripts?.[hook] ?? ''
    for (const [, file] of script.matchAll(/\bnode\s+(\S+\.c?js)\b/g)) add(file)
  }
  return named
}

/**
 * Packs `repoRoot` into `destination`, records the content checks, and
 * returns the tarball's path (or null when packing failed).
 */
export async function packAndInspect(repoRoot, destination, env) {
  fs.mkdirSync(destination, { recursive: true })
  // --ignore-scripts: this test packs the working tree as built and must
  // never start a build (prepack/prepare hooks) of its own.
  const args = ['pack', '--json', '--ignore-scripts', '--pack-destination', destination]
  const packed = await runCommand('npm', args, { cwd: repoRoot, env, timeoutMs: TIMEOUT_MS })
  let report
  try {
    ;[report] = JSON.parse(packed.stdout)
  } catch {
    report = undefined
  }
  if (packed.code !== 0 || !report) {
    record('npm pack', false, describeEnd(packed, TIMEOUT_MS), packed.output)
    return null
  }
  const tarball = path.join(destination, report.filename)
  const files = report.files.map((file) => file.path).sort()
  record('npm pack', true, `${report.filename}, ${files.length} files, ${(packed.ms / 1000).toFixed(1)} s`)
  note(`tarball: ${kib(report.size)} packed, ${kib(report.unpackedSize)} unpacked`)

  // The manifest as packed (npm may rewrite it), to know what it refers to.
  const unpacked = path.join(destination, 'unpacked')
  fs.mkdirSync(unpacked, { recursive: true })
  const untar = await runCommand('tar', ['-xzf', tarball, '-C', unpacked, 'package/package.json'], {
    cwd: destination,
    env,
    timeoutMs: 30_000,
  })
  const manifest =
    untar.code === 0 ? JSON.parse(fs.readFileSync(path.join(unpacked, 'package/package.json'), 'utf8')) : {}

  const unexpected = files.filter((file) => !ALLOWED.some(([pattern]) => pattern.test(file)))
  record(
    'tarball holds only what a consumer needs',
    unexpected.length === 0,
    unexpected.length ? `${unexpected.length} unexpected file(s)` : `${files.length} files`,
    unexpected.length
      ? `Not needed by a consumer:\n${unexpected.join('\n')}\n\nPacked:\n${files.join('\n')}`
      : files.join('\n'),
  )

  const needed = new Set([...REQUIRED, ...filesNamedBy(manifest)])
  const missing = [...needed].filter((file) => !files.includes(file)).sort()
  record(
    'tarball holds every file the package needs',
    untar.code === 0 && missing.length === 0,
    untar.code !== 0
      ? 'could not read the packed package.json'
      : missing.length
        ? `missing: ${missing.join(', ')}`
        : '',
    untar.code !== 0 ? untar.output : '',
  )
  return tarball
}
