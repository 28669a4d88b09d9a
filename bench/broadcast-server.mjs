#!/usr/bin/env node
// The scale scenarios' server: it holds thousands of connections idle and,
// when told to on stdin, sends to all of them at once. The Rust load server
// starts a flood the moment a connection opens, so it cannot hold 10,000
// connections quiet until the last one is open and then start them together.
//
// A client process starts it (clients/common.mjs, startBroadcastServer) and
// drives it over stdin, one command a line:
//
//   send <count> <size> <perWrite>
//       to every connection, `count` binary messages of `size` bytes, then
//       Close 1000. `perWrite` messages go out in one write per connection
//       and the connections take turns, so perWrite 1 is a broadcast of
//       `count` messages one after the other, and perWrite = count writes
//       each connection's whole flood at once. Answers "sent <ms>" (the time
//       its writes took) once every write is handed to the kernel.
//
// It prints "listening <port>" once bound (127.0.0.1, a free port) and exits
// when its stdin closes, so it never outlives the client that started it.
// No WebSocket library: the handshake and the frames are written by hand (the
// frames are encoded once), so what it costs is the same for every client.

import { createHash } from 'node:crypto'
import { createServer } from 'node:http'
import { createInterface } from 'node:readline'

/** RFC 6455's GUID for Sec-WebSocket-Accept. */
const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11'
/** Room for a burst of handshakes (the kernel caps it at net.core.somaxconn). */
const LISTEN_BACKLOG = 4096
/** Close 1000, no reason: opcode 0x8, FIN, length 2, the code big-endian. */
const CLOSE_FRAME = Buffer.from([0x88, 0x02, 0x03, 0xe8])

const connections = new Set()

const server = createServer((_, response) => {
  response.writeHead(426).end('a WebSocket server\n')
})
server.on('upgrade', (request, socket) => {
  const key = request.headers['sec-websocket-key']
  if (!key) {
    socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n')
    return
  }
  const accept = createHash('sha1')
    .update(key + WEBSOCKET_GUID)
    .digest('base64')
  socket.setNoDelay(true)
  socket.write(
    `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
  )
  const connection = { socket, closing: false }
  connections.add(connection)
  // Clients send nothing but their answer to our Close: once it has come,
  // ending TCP completes the closing handshake (the server closes first).
  socket.on('data', () => {
    if (connection.closing) socket.end()
  })
  socket.on('error', () => {})
  socket.on('close', () => connections.delete(connection))
})
server.listen({ host: '127.0.0.1', port: 0, backlog: LISTEN_BACKLOG }, () => {
  process.stdout.write(`listening ${server.address().port}\n`)
})

const commands = createInterface({ input: process.stdin })
commands.on('line', async (line) => {
  const [command, ...args] = line.trim().split(/\s+/)
  if (command !== 'send') {
    process.stderr.write(`broadcast-server: unknown command ${JSON.stringify(line)}\n`)
    return
  }
  const [count, size, perWrite] = args.map(Number)
  const started = performance.now()
  await sendToAll(count, size, perWrite)
  process.stdout.write(`sent ${(performance.now() - started).toFixed(1)}\n`)
})
commands.on('close', () => process.exit(0))

/** `count` messages to every connection, `perWrite` a write, the connections in turn; then Close. */
async function sendToAll(count, size, perWrite) {
  const frame = binaryFrame(size)
  const batch = Buffer.concat(Array.from({ length: perWrite }, () => frame))
  const targets = [...connections]
  for (let sent = 0; sent < count; sent += perWrite) {
    const frames = batch.subarray(0, Math.min(perWrite, count - sent) * frame.length)
    for (const { socket } of targets) socket.write(frames)
    // Let the sockets' completions and the clients' Close answers run between rounds.
    await new Promise(setImmediate)
  }
  for (const connection of targets) {
    connection.closing = true
    connection.socket.write(CLOSE_FRAME)
  }
  await Promise.all(targets.map(({ socket }) => flushed(socket)))
}

/** Resolves once everything written to `socket` is handed to the kernel (or the socket is gone). */
function flushed(socket) {
  if (socket.writableLength === 0 || socket.destroyed) return Promise.resolve()
  return new Promise((resolve) => {
    socket.once('drain', resolve)
    socket.once('close', resolve)
  })
}

/** One unmasked, final binary frame of `size` bytes of 'x' (sizes under 64 KiB). */
function binaryFrame(size) {
  if (size >= 65536) throw new Error('the broadcast server sends messages under 64 KiB')
  const header = size < 126 ? Buffer.from([0x82, size]) : Buffer.from([0x82, 126, size >> 8, size & 0xff])
  return Buffer.concat([header, Buffer.alloc(size, 'x')])
}
