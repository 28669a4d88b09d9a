// Backpressure, measured on the server side (the draft (whatwg/websockets#48):
// the readable's "pull" and the stream algorithm "write"; docs/design.md
// "Reading and backpressure", "Writing and the write bound"): a client that
// does not read slows the server's sends down through TCP flow control, a
// write waits while the server does not read
// (websockets/stream/tentative/backpressure-send.any.js), and memory stays
// bounded under a fast producer. Only lower bounds on time are asserted; the
// figures are logged.
import test from 'ava'
import { fileURLToPath } from 'node:url'
import { setTimeout as delay } from 'node:timers/promises'
import { WebSocketStream } from '../index.mjs'
import { binaryFrame, closeFrame, startRawWebSocketServer } from './helpers/raw-server.mjs'
import { spawnChild } from './helpers/child-process.mjs'
import { withTimeout } from './helpers/settle.mjs'
import { wsServerFor } from './helpers/fixtures.mjs'

const MiB = 1 << 20
const slowReader = fileURLToPath(new URL('./fixtures/slow-reader.mjs', import.meta.url))

function pattern(length, seed) {
  const bytes = Buffer.allocUnsafe(length)
  for (let i = 0; i < length; i++) bytes[i] = (i * 13 + seed * 101 + (i >> 10)) & 0xff
  return bytes
}

test.serial(
  'a client that does not read for 2 s keeps a server from finishing 16 × 1 MiB sooner; all 16 then arrive intact',
  async (t) => {
    const count = 16
    const messages = Array.from({ length: count }, (_, i) => pattern(MiB, i))
    const peer = await startRawWebSocketServer(t)
    const wss = new WebSocketStream(peer.url)
    const { socket, frames } = await peer.connection()
    const startedAt = performance.now()
    let flushed = 0
    const allFlushed = new Promise((resolve) => {
      messages.forEach((message, i) => {
        // The callback runs once the kernel has taken the whole frame.
        socket.write(binaryFrame(message), (error) => {
          if (error) return
          flushed++
          if (i === count - 1) resolve(performance.now())
        })
      })
    })
    const { readable } = await withTimeout(wss.opened, 5000, 'opened')
    // What is measured is time passing: the application reads nothing for 2 s.
    await delay(2000)
    const flushedWhenReadingStarted = flushed
    const reader = readable.getReader()
    for (let i = 0; i < count; i++) {
      const { value, done } = await withTimeout(reader.read(), 10000, `message ${i}`)
      t.false(done)
      t.is(Object.getPrototypeOf(value), Uint8Array.prototype)
      t.true(Buffer.from(value.buffer, value.byteOffset, value.byteLength).equals(messages[i]), `message ${i} intact`)
    }
    // The kernel takes the last frame a little after the client read it, at the latest.
    const flushedAt = await withTimeout(allFlushed, 5000, 'the server to finish sending')
    const elapsed = flushedAt - startedAt
    t.log(
      `server handed all 16 MiB to the kernel after ${elapsed.toFixed(0)} ms; ${flushedWhenReadingStarted} of 16 MiB were flushed when the client started reading`,
    )
    t.true(elapsed >= 1500, `the server finished after only ${elapsed.toFixed(0)} ms`)
    t.true(flushedWhenReadingStarted < count, 'the server could not flush everything while the client was not reading')
    wss.close()
    await frames.closeFrame(10_000)
    socket.end(closeFrame())
    t.deepEqual(await withTimeout(wss.closed, 10000, 'closed'), { closeCode: 1005, reason: '' })
  },
)

test.serial(
  'an 8 MiB write to a server that does not read for 2 s takes at least ~1.8 s and arrives intact',
  async (t) => {
    const payload = pattern(8 * MiB, 3)
    let receive
    const received = new Promise((resolve) => (receive = resolve))
    const server = await wsServerFor(t, (socket) => {
      // What is measured is time passing: the server reads nothing for 2 s.
      socket._socket.pause()
      setTimeout(() => socket._socket.resume(), 2000)
      socket.on('message', (data, isBinary) => receive({ data, isBinary }))
    })

    const wss = new WebSocketStream(server.url)
    const { writable } = await withTimeout(wss.opened, 5000, 'opened')
    const writer = writable.getWriter()
    const before = performance.now()
    await withTimeout(writer.write(payload), 15000, '8 MiB write')
    const elapsed = performance.now() - before
    t.log(`8 MiB write resolved after ${elapsed.toFixed(0)} ms (server paused for 2000 ms)`)
    t.true(elapsed >= 1800, `the write resolved after only ${elapsed.toFixed(0)} ms`)
    const { data, isBinary } = await withTimeout(received, 10000, 'server receives the 8 MiB message')
    t.true(isBinary)
    t.true(Buffer.isBuffer(data) && data.equals(payload), '8 MiB intact')
    wss.close()
    await withTimeout(wss.closed, 10000, 'closed')
  },
)

test.serial('small writes resolve at once (before the next macrotask) while the socket keeps up', async (t) => {
  const server = await wsServerFor(t)
  const wss = new WebSocketStream(server.url)
  const { readable, writable } = await withTimeout(wss.opened, 5000, 'opened')
  const writer = writable.getWriter()
  const reader = readable.getReader()
  const count = 50
  const late = []
  for (let i = 0; i < count; i++) {
    const message = i % 2 ? pattern(1024, i) : `small ${i} `.repeat(100)
    const first = await Promise.race([
      writer.write(message).then(() => 'write'),
      new Promise((resolve) => setImmediate(() => resolve('macrotask'))),
    ])
    if (first !== 'write') late.push(i)
    // Let the socket keep up: one event-loop turn between writes.
    await new Promise((resolve) => setImmediate(resolve))
  }
  t.deepEqual(late, [], 'writes that did not resolve before the next macrotask')
  for (let i = 0; i < count; i++) {
    const { value } = await withTimeout(reader.read(), 5000, `echo ${i}`)
    if (i % 2) t.true(Buffer.from(value).equals(pattern(1024, i)), `echo ${i}`)
    else t.is(value, `small ${i} `.repeat(100))
  }
  wss.close()
  await withTimeout(wss.closed, 10000, 'closed')
})

test.serial('client RSS stays bounded while a server offers 512 MiB to a slow reader', async (t) => {
  const messageSize = 64 << 10
  const total = 512 * MiB
  const messageCount = total / messageSize
  let queued = 0
  let flushedBytes = 0
  const peer = await startRawWebSocketServer(t)
  const reader = spawnChild(t, process.execPath, [slowReader, peer.url, '4000'])
  const { socket } = await peer.connection()
  let stopped = false
  socket.on('close', () => (stopped = true))
  socket.on('error', () => (stopped = true))
  const pump = () => {
    while (!stopped && queued < messageCount) {
      const payload = Buffer.alloc(messageSize)
      payload.writeUInt32BE(queued, 0)
      queued++
      const ok = socket.write(binaryFrame(payload), (error) => {
        if (!error) flushedBytes += messageSize
      })
      if (!ok) {
        socket.once('drain', pump)
        return
      }
    }
  }
  pump()
  const { code, signal } = await withTimeout(reader.exited, 20000, 'slow reader child to finish')
  const flushedAtExit = flushedBytes
  t.is(signal, null, reader.output.stderr)
  t.is(code, 0, reader.output.stderr)
  const [report] = reader.jsonLines()
  const growth = report.peakRss - report.baselineRss
  t.log(
    `slow reader read ${report.messages} messages (${(report.bytes / MiB).toFixed(1)} MiB); ` +
      `RSS ${(report.baselineRss / MiB).toFixed(1)} → peak ${(report.peakRss / MiB).toFixed(1)} MiB ` +
      `(growth ${(growth / MiB).toFixed(1)} MiB); server flushed ${(flushedAtExit / MiB).toFixed(1)} MiB ` +
      `(queued ${((queued * messageSize) / MiB).toFixed(1)} MiB) of 512 MiB`,
  )
  t.is(report.bad, 0, 'messages arrived in order and intact')
  t.true(report.messages >= 100, 'the reader did read')
  t.true(growth < 150 * MiB, `RSS grew by ${(growth / MiB).toFixed(1)} MiB`)
  t.true(flushedAtExit < 160 * MiB, `the server flushed ${(flushedAtExit / MiB).toFixed(1)} MiB`)
})
