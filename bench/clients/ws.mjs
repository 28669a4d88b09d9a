// ws 8, the baseline: its own event API as its documentation shows it.
// Text arrives as a Buffer (ws does not decode it): an application that wants
// a string calls toString(), so this client does too. With permessage-deflate
// (the deflate scenarios) ws compresses messages of 1024 bytes or more and
// inflates what arrives compressed, through zlib's thread pool.

import WebSocket from 'ws'
import { main } from './common.mjs'
import { eventScenarios } from './event-scenarios.mjs'

/** Flow control for sends: above this many buffered bytes, wait for the socket. */
const SEND_HIGH_WATER = 1 << 20

await main(
  eventScenarios({
    // ws offers permessage-deflate by default; the deflate scenarios say so
    // explicitly. Only the load server's /deflate/ routes accept the offer.
    connect: (url, { deflate = false } = {}) =>
      deflate ? new WebSocket(url, { perMessageDeflate: true }) : new WebSocket(url),
    opened: (ws) =>
      new Promise((resolve, reject) => {
        ws.once('open', resolve)
        ws.once('error', reject)
      }),
    closed: (ws) =>
      new Promise((resolve, reject) => {
        ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() }))
        ws.once('error', reject)
      }),
    onMessage: (ws, handler) => ws.on('message', (data, isBinary) => handler(isBinary ? data : data.toString())),
    send(ws, payload) {
      if (ws.bufferedAmount < SEND_HIGH_WATER) {
        ws.send(payload)
        return undefined
      }
      // The callback runs once this message is handed to the kernel.
      return new Promise((resolve, reject) => ws.send(payload, (error) => (error ? reject(error) : resolve())))
    },
  }),
)
