'use strict'
// Loads the compiled addon through the loader napi-rs generates, and says how
// to build it when there is no binary for this platform.

function loadBinding() {
  try {
    return require('../binding.js')
  } catch (error) {
    const hint = new Error(
      `websocketstream: no native binary for ${process.platform}-${process.arch} could be loaded. ` +
        'Build it from source with a Rust toolchain (https://rustup.rs): run `npm run build` ' +
        'in the websocketstream package directory.',
      { cause: error },
    )
    hint.code = 'ERR_WEBSOCKETSTREAM_NATIVE_MISSING'
    throw hint
  }
}

module.exports = loadBinding()
