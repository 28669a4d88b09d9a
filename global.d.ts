// `import 'websocketstream/global'` declares the two classes on globalThis,
// as a value and as a type, the way the DOM library declares them.

import type { WebSocketError as WebSocketErrorClass, WebSocketStream as WebSocketStreamClass } from './index.js'

declare global {
  interface WebSocketStream extends WebSocketStreamClass {}
  var WebSocketStream: typeof WebSocketStreamClass
  interface WebSocketError extends WebSocketErrorClass {}
  var WebSocketError: typeof WebSocketErrorClass
}
