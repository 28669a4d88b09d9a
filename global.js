// @ts-check
'use strict'
// `require('websocketstream/global')`: puts WebSocketStream and WebSocketError
// on globalThis where the runtime lacks them, so browser code runs unchanged.

const { WebSocketStream, WebSocketError } = require('./index.js')

for (const [name, value] of Object.entries({ WebSocketStream, WebSocketError })) {
  if (!(name in globalThis)) {
    Object.defineProperty(globalThis, name, { value, writable: true, configurable: true })
  }
}
