// ESM entry: the same classes as the CommonJS one, so both import styles mix.
// The default export is the CommonJS module object, as Node gives it to an
// ESM default import of a CommonJS package.
import websocketstream from './index.js'

export const { WebSocketStream, WebSocketError } = websocketstream
export default websocketstream
