// No Rust panic reaches JS (docs/design.md "Errors"): a panic in an entry
// point that JS calls on its own thread ends that one connection with an
// unclean close naming the internal error, and the process and its other
// connections go on. A panic can only be forced in a debug build of the addon
// (debugPanicOnNextCall, src/entry_guard.rs): `npm test` builds one with
// `cargo build`, and each case loads it in a child process.
import test from 'ava'
import { execFile, execFileSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const root = fileURLToPath(new URL('..', import.meta.url))

/** The debug build of the addon, copied under a name `require` loads as an addon. */
function debugAddon() {
  const metadata = JSON.parse(
    execFileSync('cargo', ['metadata', '--format-version', '1', '--no-deps'], { cwd: root, encoding: 'utf8' }),
  )
  const library = { linux: 'libwebsocketstream.so', darwin: 'libwebsocketstream.dylib', win32: 'websocketstream.dll' }[
    process.platform
  ]
  const built = path.join(metadata.target_directory, 'debug', library)
  if (!existsSync(built)) {
    throw new Error(`no debug build of the addon at ${built}: run \`cargo build\` (npm test does)`)
  }
  const copy = path.join(mkdtempSync(path.join(tmpdir(), 'websocketstream-debug-')), 'websocketstream.node')
  copyFileSync(built, copy)
  return copy
}

const addon = debugAddon()

for (const entry of ['sendText', 'sendBinary', 'takeMessages', 'takeLargeMessage', 'close']) {
  test(`a panic in ${entry}() fails that connection with a WebSocketError and the process goes on`, async (t) => {
    // A panic that unwound into Node would abort the child: execFile rejects.
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [path.join(root, '__test__/fixtures/forced-panic.mjs'), entry],
      { env: { ...process.env, NAPI_RS_NATIVE_LIBRARY_PATH: addon }, timeout: 20_000 },
    )
    const { outcome, echo } = JSON.parse(stdout.trim().split('\n').at(-1))
    t.like(outcome, { settled: 'rejected', name: 'WebSocketError', closeCode: 1006 })
    t.regex(outcome.message, new RegExp(`websocketstream internal error in ${entry}: panic forced`))
    t.is(echo, 'still alive')
  })
}
