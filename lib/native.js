// @ts-check
'use strict'
// Loads the compiled addon through the loader napi-rs generates, and says
// what to do when there is no binary for this platform.

const fs = require('node:fs')
const path = require('node:path')

function loadBinding() {
  try {
    return require('../binding.js')
  } catch (error) {
    const platform = `${process.platform}-${process.arch}`
    const checkout = fs.existsSync(path.join(__dirname, '..', 'Cargo.toml'))
    const advice = checkout
      ? 'Build it with a Rust toolchain (https://rustup.rs): `npm run build` in this checkout.'
      : 'Prebuilt binaries come as optional dependencies (websocketstream-<platform>); make sure ' +
        'optional dependencies were installed, or install websocketstream from a git checkout ' +
        'with a Rust toolchain (https://rustup.rs), where `npm install` builds it.'
    const hint = new Error(`websocketstream: no native binary for ${platform} could be loaded. ${advice}`, {
      cause: error,
    })
    throw Object.assign(hint, { code: 'ERR_WEBSOCKETSTREAM_NATIVE_MISSING' })
  }
}

module.exports = loadBinding()
