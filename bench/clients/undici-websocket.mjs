// undici's WebSocket (the WHATWG WebSocket API; Node 22+ ships it as the
// global WebSocket). binaryType 'arraybuffer': the default, Blob, would be far
// slower and is not what a Node application asks for. The API has no send
// callback, so sending waits while bufferedAmount is high, as browser code does.
// undici always offers permessage-deflate (there is no option): it inflates
// compressed messages but sends its own uncompressed.

import { WebSocket } from 'undici'
import { main } from './common.mjs'
import { eventScenarios } from './event-scenarios.mjs'

/** Flow control for sends: above this many buffered bytes, wait for the socket. */
const SEND_HIGH_WATER = 1 << 20

const nextTurn = () => new Promise((resolve) => setImmediate(resolve))

await main(
  eventScenarios({
    connect(url) {
      const ws = new WebSocket(url)
      ws.binaryType = 'arraybuffer'
      return ws
    },
    opened: (ws) =>
      new Promise((resolve, reject) => {
        ws.addEventListener('open', resolve, { once: true })
        ws.addEventListener('error', () => reject(new Error(`cannot connect to ${ws.url}`)), { once: true })
      }),
    closed: (ws) =>
      new Promise((resolve) => {
        ws.addEventListener('close', ({ code, reason }) => resolve({ code, reason }), { once: true })
      }),
    onMessage: (ws, handler) => ws.addEventListener('message', ({ data }) => handler(data)),
    send(ws, payload) {
      if (ws.bufferedAmount < SEND_HIGH_WATER) {
        ws.send(payload)
        return undefined
      }
      return (async () => {
        while (ws.bufferedAmount >= SEND_HIGH_WATER) await nextTurn()
        ws.send(payload)
      })()
    },
  }),
)
