// A ping/pong client: MDN's "Using WebSocketStream to write a client", with
// the console in place of the page.
//
//   node examples/pingpong.mjs              starts a local server, plays 3 rounds, closes, exits
//   node examples/pingpong.mjs ws://host/   pings that server every 5 s until Ctrl-C
import { WebSocketServer } from 'ws'
import { WebSocketStream } from '../index.mjs'

const ROUNDS = 3 // local mode only: pongs to receive before closing

// With no URL, run a local server like the guide's Deno one: it answers
// "ping" with "pong" and echoes anything else.
let server
let wsURL = process.argv[2]
if (wsURL === undefined) {
  server = new WebSocketServer({ host: '127.0.0.1', port: 0 })
  await new Promise((resolve) => server.once('listening', resolve))
  server.on('connection', (socket) => {
    socket.on('message', (data, isBinary) => {
      socket.send(!isBinary && data.toString() === 'ping' ? 'pong' : data, { binary: isBinary })
    })
  })
  wsURL = `ws://127.0.0.1:${server.address().port}/`
}
const local = server !== undefined
const interval = local ? 500 : 5000

const wss = new WebSocketStream(wsURL)
console.log(wss.url)

// The guide's close button. The guide writes close({ code, reason }), from
// before the draft renamed the member to `closeCode` (a `code` member would
// clash with DOMException's `code` on WebSocketError). `code` is now ignored.
function closeSocket() {
  wss.close({ closeCode: 1000, reason: "That's all folks" })
}
process.once('SIGINT', closeSocket)

let pingTimer
async function start() {
  const { readable, writable } = await wss.opened
  console.log('CONNECTED')
  const reader = readable.getReader()
  const writer = writable.getWriter()

  async function ping() {
    try {
      await writer.write('ping')
      console.log('SENT: ping')
    } catch (e) {
      // Writing after the connection closed rejects.
      console.log(`Error writing to socket: ${e.message}`)
    }
  }

  await ping()
  let rounds = 0
  while (true) {
    // One read is one message; `done` once the connection closed cleanly.
    const { value, done } = await reader.read()
    if (done) break
    console.log(`RECEIVED: ${value}`)
    // After the last round, close and keep reading until `done`.
    if (local && ++rounds === ROUNDS) closeSocket()
    else pingTimer = setTimeout(ping, interval)
  }
}

// `closed` reports how the connection ended: it fulfils after a clean
// closing handshake and rejects with a WebSocketError otherwise (a failed
// connection included, so start()'s own rejection needs no report).
start().catch(() => {})
try {
  const { closeCode, reason } = await wss.closed
  console.log(`DISCONNECTED: code ${closeCode}, message "${reason}"`)
} catch (error) {
  console.log(`DISCONNECTED: code ${error.closeCode}, message "${error.reason}" (${error.message})`)
  process.exitCode = 1
} finally {
  // Nothing may keep the process alive now: no timer, no server, no handler.
  clearTimeout(pingTimer)
  process.off('SIGINT', closeSocket)
  server?.close()
}
