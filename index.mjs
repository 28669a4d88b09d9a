// ESM entry: the same classes as the CommonJS one, so both import styles mix.
import websocketstream from './index.js'

export const { WebSocketStream, WebSocketError } = websocketstream
export default websocketstream
