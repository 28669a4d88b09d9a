// Reading: what `opened` hands over and how server messages reach the
// readable (SPEC.md §1.6, §1.7, §1.9, §1.10; DESIGN.md "Data path", "Decisions").
// The `ws` package is the peer throughout.
import test from 'ava'
import { setTimeout as delay } from 'node:timers/promises'
import { ReadableStream, WritableStream } from 'node:stream/web'
import { withTimeout } from './helpers/timeout.mjs'
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

test('binary messages arriving together each own exactly their bytes', async (t) => {
  const messages = [pattern(10, 1), pattern(200, 2), pattern(3, 3), pattern(4096, 4)]
  const { url } = await server(t, (socket) => {
    for (const message of messages) socket.send(message, { binary: true })
  })
  const { readable } = await open(t, url)
  // Let them all arrive so that they are likely handed over in one batch.
  await delay(200)
  const reader = readable.getReader()
  for (const message of messages) {
    const { value } = await read(reader)
    assertOwnedUint8Array(t, value, message)
  }
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
    socket.send(parts[0], { binary: true, fin: false })
    await delay(50)
    socket.send(parts[1], { binary: true, fin: false })
    await delay(50)
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
    for (let i = 0; i < cuts.length - 1; i++) {
      const fin = i === cuts.length - 2
      socket.send(encoded.subarray(cuts[i], cuts[i + 1]), { binary: false, fin })
      if (!fin) await delay(50)
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
  const { url } = await server(t, (socket) => {
    for (let i = 0; i < count; i++) {
      const message = expected(i)
      socket.send(message, { binary: typeof message !== 'string' })
    }
  })
  const { readable } = await open(t, url)
  const reader = readable.getReader()
  // Let the burst pile up in the client so it is handed over in batches.
  await delay(300)
  const problems = []
  for (let i = 0; i < count; i++) {
    const { value, done } = await withTimeout(reader.read(), 10000, `message ${i}`)
    if (done) {
      problems.push(`stream ended at ${i}`)
      break
    }
    const want = expected(i)
    if (typeof want === 'string') {
      if (value !== want) problems.push(`message ${i}: expected text ${JSON.stringify(want)}, got ${String(value).slice(0, 40)}`)
    } else if (
      Object.getPrototypeOf(value) !== Uint8Array.prototype ||
      value.byteOffset !== 0 ||
      value.buffer.byteLength !== value.byteLength ||
      !Buffer.from(value.buffer, 0, value.byteLength).equals(want)
    ) {
      problems.push(`message ${i}: binary chunk wrong (${Object.prototype.toString.call(value)}, length ${value?.byteLength})`)
    }
    if (problems.length > 5) break
  }
  t.deepEqual(problems, [])
})

test('server pings are answered while the application neither writes nor reads, and never reach the readable', async (t) => {
  const pongs = []
  let pongsDone
  const allPongs = new Promise((resolve) => (pongsDone = resolve))
  const payloads = [Buffer.from('ping payload 1'), Buffer.alloc(0), pattern(125, 5)]
  const { url } = await server(t, async (socket) => {
    socket.send('before')
    socket.on('pong', (data) => {
      pongs.push(Buffer.from(data))
      if (pongs.length === payloads.length) pongsDone()
    })
    // Give the client time to have 'before' sitting unread in its readable.
    await delay(100)
    for (const payload of payloads) {
      const arrived = pongs.length
      socket.ping(payload)
      // One at a time: each pong must come back while the client does nothing.
      while (pongs.length === arrived && socket.readyState === 1) await delay(5)
    }
    socket.send('after')
  })
  const { readable } = await open(t, url)
  // The application does nothing until the server has all its pongs.
  await withTimeout(allPongs, 5000, 'pongs for all pings while the client is idle')
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
  const { url } = await server(t, (socket) => socket.send('kept'))
  const { wss, readable } = await open(t, url)
  // The readable pulled at start, so 'kept' is moved into its queue as soon
  // as it arrives; give it ample time on loopback.
  await delay(500)
  wss.close()
  const reader = readable.getReader()
  t.deepEqual(await read(reader), { value: 'kept', done: false })
  t.deepEqual(await withTimeout(reader.read(), 10000, 'end'), { value: undefined, done: true })
  t.deepEqual(await withTimeout(wss.closed, 10000, 'closed'), { closeCode: 1005, reason: '' })
})
