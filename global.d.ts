// `import 'websocketstream/global'` declares the two classes on globalThis.

import type {
  WebSocketError as WebSocketErrorClass,
  WebSocketStream as WebSocketStreamClass,
} from './index.js'

declare global {
  var WebSocketStream: typeof WebSocketStreamClass
  var WebSocketError: typeof WebSocketErrorClass
}

export {}
