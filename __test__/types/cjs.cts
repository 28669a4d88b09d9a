// The package as a CommonJS user requires it by name (package.json
// "exports", "require" condition).
import websocketstream = require('websocketstream')

const { WebSocketStream, WebSocketError } = websocketstream
const wss = new WebSocketStream('ws://127.0.0.1/', { protocols: ['chat'] })
export const url: string = wss.url
export const isError: boolean = new WebSocketError('m') instanceof DOMException
