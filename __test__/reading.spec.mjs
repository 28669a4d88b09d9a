// Reading: what `opened` hands over and how server messages reach the
// readable (the draft (whatwg/websockets#48): WebSocketOpenInfo, the
// readable's "pull", "when the WebSocket connection is closed";
// docs/design.md "JS-thread fast paths", "Reading and backpressure",
// "Decisions where the draft is silent"). The `ws` package is the peer
// throughout.
import test from 'ava'
import { ReadableStream, WritableStream } from 'node:stream/web'
import { withTimeout } from './helpers/settle.mjs'
import { openedClientFor as open, wsServerFor as server } from './helpers/fixtures.mjs'

function read(reader, label = 'read') {
  return withTimeout(reader.read(), 5000, label)
}

/** A binary chunk must be a plain Uint8Array owning exactly its bytes. */
function assertOwnedUint8Array(t, chunk, expected) {
  t.is(Object.getPrototypeOf(chunk), Uint8Array.prototype, 'a plain Uint8Array, not a Buffer')
  t.is(chunk.byteOffset, 0, 'starts at offset 0 of its buffer')
  t.is(chunk.buffer.byteLength, chunk.byteLength, 'its buffer holds exactly the message')
  t.is(chunk.byteLength, expected.byteLength)
  t.true(Buffer.from(chunk.buffer, 0, chunk.byteLength).equals(expected), 'bytes intact')
}

function pattern(length, seed = 0) {
  const bytes = Buffer.allocUnsafe(length)
  for (let i = 0; i < length; i++) bytes[i] = (i * 31 + seed * 7 + (i >> 8)) & 0xff
  return bytes
}

const LEAD = pattern(64 << 10, 99)

/**
 * Resolves once the client has answered a ping sent now on the server-side
 * `socket`: it answers only after reading every frame sent before the ping.
 */
function pingRoundTrip(socket) {
  return new Promise((resolve) => {
    socket.once('pong', resolve)
    socket.ping()
  })
}

/**
 * Resolves once every message `socket` sent before the call is in the
 * client's queue, where JS takes messages from. The first pong shows the
 * client read them; it moves what it read into that queue just after
 * answering, and the second round trip, which starts only once the first
 * pong is back, covers that moment.
 */
async function queuedAtClient(socket) {
  await pingRoundTrip(socket)
  await pingRoundTrip(socket)
}

/** One macrotask turn: the microtasks a read set off (a pull, say) have all run. */
const nextTurn = () => new Promise((resolve) => setImmediate(resolve))

/**
 * A server that sends each client `LEAD`, then `messages`, and resolves
 * `queued()` once they are all in the client's queue. Nothing is read yet:
 * the readable's first pull takes `LEAD` alone (a message of 64 KiB is
 * handed over on its own, never in a batch), its queue is then full, so the
 * rest waits in the client's queue until the application reads.
 */
async function serverQueueing(t, messages) {
  let resolveQueued
  const queued = new Promise((resolve) => (resolveQueued = resolve))
  const { url } = await server(t, async (socket) => {
    socket.send(LEAD, { binary: true })
    for (const message of messages) socket.send(message, { binary: typeof message !== 'string' })
    await queuedAtClient(socket)
    resolveQueued()
  })
  return { url, queued: () => withTimeout(queued, 10_000, 'the messages to be queued at the client') }
}

test('opened resolves real node:stream/web ReadableStream and WritableStream', async (t) => {
  const { url } = await server(t)
  const { readable, writable, protocol, extensions } = await open(t, url)
  t.true(readable instanceof ReadableStream)
  t.true(writable instanceof WritableStream)
  // WPT's brand check: the real internal slots, not a look-alike.
  const reader = ReadableStream.prototype.getReader.call(readable)
  const writer = WritableStream.prototype.getWriter.call(writable)
  t.is(typeof reader.read, 'function')
  t.is(typeof writer.write, 'function')
  t.is(protocol, '')
  t.is(extensions, '')
})

test('a text message is read as a string', async (t) => {
  const text = 'hello ☃ — 🔌 text'
  const { url } = await server(t, (socket) => socket.send(text))
  const { readable } = await open(t, url)
  const { value, done } = await read(readable.getReader())
  t.false(done)
  t.is(typeof value, 'string')
  t.is(value, text)
})

test('a binary message is read as a plain Uint8Array owning exactly its bytes', async (t) => {
  const bytes = pattern(1000)
  const { url } = await server(t, (socket) => socket.send(bytes, { binary: true }))
  const { readable } = await open(t, url)
  const { value } = await read(readable.getReader())
  assertOwnedUint8Array(t, value, bytes)
})

test('messages queued before the application reads are taken in one batch by one pull, each binary one owning exactly its bytes', async (t) => {
  // Text, and binary messages from 3 bytes to 4 KiB, 120 in all: one batch
  // holds up to 512 messages and 256 KiB (lib/session.js).
  const messages = Array.from({ length: 120 }, (_, i) =>
    i % 3 === 0 ? pattern([10, 200, 3, 4096][(i / 3) % 4], i) : `text ${i} ☃`,
  )
  const { url, queued } = await serverQueueing(t, messages)
  const { wss, readable } = await open(t, url)
  const reader = readable.getReader()
  await queued()
  assertOwnedUint8Array(t, (await read(reader, 'the lead message')).value, LEAD)
  // Reading the lead message emptied the readable's queue, so it pulled once:
  // that pull takes a batch, all 120 here.
  await nextTurn()
  // From close() on, messages still in the client's queue are dropped and
  // the readable is not pulled again (docs/design.md "Closing"): what is
  // read from here on is exactly what that one pull moved into the
  // readable. Had it taken one message, or enqueued part of a batch, fewer
  // would come.
  wss.close()
  const received = []
  for (;;) {
    const { value, done } = await read(reader)
    if (done) break
    received.push(value)
  }
  t.is(received.length, messages.length, 'every queued message came from the one pull')
  received.forEach((value, i) => {
    if (typeof messages[i] === 'string') t.is(value, messages[i], `message ${i}`)
    else assertOwnedUint8Array(t, value, messages[i])
  })
})

test('a 0-byte binary message is read as an empty Uint8Array', async (t) => {
  const { url } = await server(t, (socket) => {
    socket.send(Buffer.alloc(0), { binary: true })
    socket.send('after')
  })
  const { readable } = await open(t, url)
  const reader = readable.getReader()
  const { value, done } = await read(reader)
  t.false(done)
  t.is(Object.getPrototypeOf(value), Uint8Array.prototype)
  t.is(value.byteLength, 0)
  t.is(value.buffer.byteLength, 0)
  t.is(value.byteOffset, 0)
  t.is((await read(reader)).value, 'after')
})

test('a 0-byte text message is read as an empty string', async (t) => {
  const { url } = await server(t, (socket) => {
    socket.send('')
    socket.send('after')
  })
  const { readable } = await open(t, url)
  const reader = readable.getReader()
  const { value, done } = await read(reader)
  t.false(done)
  t.is(value, '')
  t.is((await read(reader)).value, 'after')
})

test('a 5 MiB binary message is read whole as one Uint8Array owning exactly its bytes', async (t) => {
  const bytes = pattern(5 << 20, 9)
  const { url } = await server(t, (socket) => socket.send(bytes, { binary: true }))
  const { readable } = await open(t, url)
  const { value } = await withTimeout(readable.getReader().read(), 15000, 'read 5 MiB')
  assertOwnedUint8Array(t, value, bytes)
})

test('a binary message fragmented by the server arrives whole as one chunk', async (t) => {
  const parts = [pattern(100, 1), pattern(70000, 2), pattern(1, 3)]
  const { url } = await server(t, async (socket) => {
    // Each fragment reaches the client before the next is sent; the pings in
    // between are control frames inside a fragmented message (RFC 6455 §5.4).
    socket.send(parts[0], { binary: true, fin: false })
    await pingRoundTrip(socket)
    socket.send(parts[1], { binary: true, fin: false })
    await pingRoundTrip(socket)
    socket.send(parts[2], { binary: true, fin: true })
    socket.send('next')
  })
  const { readable } = await open(t, url)
  const reader = readable.getReader()
  const { value } = await read(reader)
  assertOwnedUint8Array(t, value, Buffer.concat(parts))
  t.is((await read(reader)).value, 'next', 'the fragments made exactly one message')
})

test('a text message fragmented inside a UTF-8 sequence arrives whole as one string', async (t) => {
  const text = 'snow ☃ plug 🔌 end'
  const encoded = Buffer.from(text)
  // Cut inside the three bytes of ☃ and inside the four bytes of 🔌.
  const snowman = encoded.indexOf(Buffer.from('☃'))
  const plug = encoded.indexOf(Buffer.from('🔌'))
  const cuts = [0, snowman + 1, plug + 2, encoded.length]
  const { url } = await server(t, async (socket) => {
    // Each fragment reaches the client before the next is sent.
    for (let i = 0; i < cuts.length - 1; i++) {
      const fin = i === cuts.length - 2
      socket.send(encoded.subarray(cuts[i], cuts[i + 1]), { binary: false, fin })
      if (!fin) await pingRoundTrip(socket)
    }
    socket.send('next')
  })
  const { readable } = await open(t, url)
  const reader = readable.getReader()
  const { value } = await read(reader)
  t.is(value, text)
  t.is((await read(reader)).value, 'next', 'the fragments made exactly one message')
})

test('order and content are kept over 10,000 mixed text and binary messages sent in a burst', async (t) => {
  const count = 10000
  const expected = (i) => (i % 3 === 0 ? Buffer.from(`m${i}`.repeat(1 + (i % 5))) : `t${i} ☃`.repeat(1 + (i % 4)))
  const messages = Array.from({ length: count }, (_, i) => expected(i))
  // All of the burst (about 300 KiB) waits in the client's queue before the
  // first read, so it is taken in batches of up to 512.
  const { url, queued } = await serverQueueing(t, messages)
  const { readable } = await open(t, url)
  const reader = readable.getReader()
  await queued()
  assertOwnedUint8Array(t, (await read(reader, 'the lead message')).value, LEAD)
  const problems = []
  for (let i = 0; i < count; i++) {
    const { value, done } = await withTimeout(reader.read(), 10000, `message ${i}`)
    if (done) {
      problems.push(`stream ended at ${i}`)
      break
    }
    const want = expected(i)
    if (typeof want === 'string') {
      if (value !== want)
        problems.push(`message ${i}: expected text ${JSON.stringify(want)}, got ${String(value).slice(0, 40)}`)
    } else if (
      Object.getPrototypeOf(value) !== Uint8Array.prototype ||
      value.byteOffset !== 0 ||
      value.buffer.byteLength !== value.byteLength ||
      !Buffer.from(value.buffer, 0, value.byteLength).equals(want)
    ) {
      problems.push(
        `message ${i}: binary chunk wrong (${Object.prototype.toString.call(value)}, length ${value?.byteLength})`,
      )
    }
    if (problems.length > 5) break
  }
  t.deepEqual(problems, [])
})

test('server pings are answered while the application neither writes nor reads, and never reach the readable', async (t) => {
  const payloads = [Buffer.from('ping payload 1'), Buffer.alloc(0), pattern(125, 5)]
  let resolvePongs
  const allPongs = new Promise((resolve) => (resolvePongs = resolve))
  const { url } = await server(t, async (socket) => {
    socket.send('before')
    // 'before' now sits unread at the client.
    await pingRoundTrip(socket)
    const pongs = []
    // One at a time: each pong must come back while the client does nothing.
    for (const payload of payloads) {
      pongs.push(
        await new Promise((resolve) => {
          socket.once('pong', (data) => resolve(Buffer.from(data)))
          socket.ping(payload)
        }),
      )
    }
    resolvePongs(pongs)
    socket.send('after')
  })
  const { readable } = await open(t, url)
  // The application does nothing until the server has all its pongs.
  const pongs = await withTimeout(allPongs, 5000, 'pongs for all pings while the client is idle')
  t.is(pongs.length, payloads.length)
  for (let i = 0; i < payloads.length; i++) t.true(pongs[i].equals(payloads[i]), `pong ${i} echoes the ping payload`)
  const reader = readable.getReader()
  t.is((await read(reader)).value, 'before')
  t.is((await read(reader)).value, 'after', 'no ping or pong in the readable')
})

test('for await over the readable yields every message and ends on a clean close', async (t) => {
  const { url } = await server(t, (socket) => {
    socket.send('a')
    socket.send(Buffer.from([1, 2, 3]), { binary: true })
    socket.send('c')
    socket.close(1000, 'done')
  })
  const { wss, readable } = await open(t, url)
  const received = []
  await withTimeout(
    (async () => {
      for await (const message of readable) received.push(message)
    })(),
    5000,
    'for await to end',
  )
  t.is(received.length, 3)
  t.is(received[0], 'a')
  t.deepEqual([...received[1]], [1, 2, 3])
  t.is(Object.getPrototypeOf(received[1]), Uint8Array.prototype)
  t.is(received[2], 'c')
  t.deepEqual(await withTimeout(wss.closed, 5000, 'closed'), { closeCode: 1000, reason: 'done' })
})

test('messages the server sends after the client called close() are not delivered', async (t) => {
  let lateSent = 0
  let serverSawClose
  const sawClose = new Promise((resolve) => (serverSawClose = resolve))
  const { url } = await server(t, (socket) => {
    socket.send('first')
    socket.on('message', (data) => {
      if (String(data) !== 'send more') return
      // These go out before ws reads the client's Close behind 'send more'.
      for (let i = 0; i < 5; i++) socket.send(`late ${i}`, () => lateSent++)
    })
    socket.on('close', (code) => serverSawClose(code))
  })
  const { wss, readable, writable } = await open(t, url)
  const reader = readable.getReader()
  t.is((await read(reader)).value, 'first')
  const writer = writable.getWriter()
  await withTimeout(writer.write('send more'), 5000, 'write')
  wss.close()
  const rest = []
  await withTimeout(
    (async () => {
      for (;;) {
        const { value, done } = await reader.read()
        if (done) break
        rest.push(value)
      }
    })(),
    10000,
    'readable to end after close()',
  )
  t.deepEqual(rest, [], 'nothing after close() reaches the readable')
  t.is(lateSent, 5, 'the server did send the late messages')
  t.deepEqual(await withTimeout(wss.closed, 10000, 'closed'), { closeCode: 1005, reason: '' })
  await withTimeout(sawClose, 5000, 'server close')
})

test('a message already in the readable before close() stays readable, then the readable ends', async (t) => {
  let resolveQueued
  const queued = new Promise((resolve) => (resolveQueued = resolve))
  const { url } = await server(t, async (socket) => {
    socket.send('kept')
    await queuedAtClient(socket)
    resolveQueued()
  })
  const { wss, readable } = await open(t, url)
  // The readable pulled at start, so its pull was waiting: the moment 'kept'
  // was queued at the client, the pull moved it into the readable's queue.
  await withTimeout(queued, 5000, "'kept' to be queued at the client")
  wss.close()
  const reader = readable.getReader()
  t.deepEqual(await read(reader), { value: 'kept', done: false })
  t.deepEqual(await withTimeout(reader.read(), 10000, 'end'), { value: undefined, done: true })
  t.deepEqual(await withTimeout(wss.closed, 10000, 'closed'), { closeCode: 1005, reason: '' })
})
