// The package as an ES module user imports it by name (package.json
// "exports", "import" condition), both named and default.
import websocketstream, { WebSocketError, WebSocketStream } from 'websocketstream'

const wss: WebSocketStream = new websocketstream.WebSocketStream('ws://127.0.0.1/')
const same: typeof WebSocketStream = websocketstream.WebSocketStream
const error: WebSocketError = new websocketstream.WebSocketError('m', { closeCode: 1000 })
export const url: string = wss.url
export const code: number | null = error.closeCode
