// ws 8, the baseline: its own event API as its documentation shows it.
// Text arrives as a Buffer (ws does not decode it): an application that wants
// a string calls toString(), so this client does too.

import WebSocket from 'ws'
import { main } from './common.mjs'
import { eventScenarios } from './event-scenarios.mjs'

/** Flow control for sends: above this many buffered bytes, wait for the socket. */
const SEND_HIGH_WATER = 1 << 20

await main(
  eventScenarios({
    connect: (url) => new WebSocket(url),
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
