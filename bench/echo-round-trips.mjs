// Sequential echo round trips of a 32-byte text message, one client, for
// counting what a round trip costs under `perf stat` or `strace -c -f`
// (bench/README.md "This round: the targets of issue 16"):
//
//   bench/load-server/target/release/websocketstream-load-server   # prints "listening PORT"
//   perf stat -e task-clock,context-switches node bench/echo-round-trips.mjs websocketstream ws://127.0.0.1:PORT/echo 20000
//   strace -c -f node bench/echo-round-trips.mjs ws ws://127.0.0.1:PORT/echo 5000
//
// Prints the median and 99th percentile round trip in µs.
import WebSocket from 'ws'
import { WebSocketStream } from '../index.mjs'

const [client, url, countArgument = '20000'] = process.argv.slice(2)
const count = Number(countArgument)
const message = 'x'.repeat(32)

/** @returns {Promise<() => Promise<unknown>>} one round trip */
async function openWebSocketStream() {
  const { readable, writable } = await new WebSocketStream(url).opened
  const reader = readable.getReader()
  const writer = writable.getWriter()
  return async () => {
    await writer.write(message)
    return reader.read()
  }
}

/** @returns {Promise<() => Promise<unknown>>} one round trip */
async function openWs() {
  const ws = new WebSocket(url)
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject))
  let replied = () => {}
  ws.on('message', () => replied())
  return () => {
    const reply = new Promise((resolve) => {
      replied = resolve
    })
    ws.send(message)
    return reply
  }
}

const openers = { websocketstream: openWebSocketStream, ws: openWs }
if (!(client in openers) || !url || !(count > 0)) {
  console.error('usage: node bench/echo-round-trips.mjs websocketstream|ws <echo url> [round trips]')
  process.exit(2)
}
const roundTrip = await openers[client]()
const times = new Float64Array(count)
for (let i = 0; i < count; i++) {
  const start = performance.now()
  await roundTrip()
  times[i] = (performance.now() - start) * 1000
}
times.sort()
console.log(
  `${client}: ${count} round trips, median ${times[count >> 1].toFixed(1)} µs, p99 ${times[Math.floor(count * 0.99)].toFixed(1)} µs`,
)
process.exit(0)
