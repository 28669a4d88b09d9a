// Interop with an independent server: Python's `websockets` package
// (fixtures/python-server.py, started with python3). The core behaviours of
// the draft (whatwg/websockets#48) and of docs/design.md against a peer that
// is not `ws`: echo of both kinds, fragmented messages reassembled, close
// codes and reasons both ways, subprotocol selection, pings (explicit and
// keepalive) answered, websockets' own size limit ending the connection
// with 1009, and permessage-deflate both ways (websockets compresses by
// default, so every test here runs compressed unless it says otherwise).
import test from 'ava'
import { WebSocketError } from '../../index.mjs'
import { withTimeout } from '../helpers/settle.mjs'
import { sampleMessage } from '../helpers/raw-server.mjs'
import { openedClientFor as openStream } from '../helpers/fixtures.mjs'
import { spawnChild } from '../helpers/child-process.mjs'
import { fixture } from './support/child.mjs'
import { MiB, standing } from './support/checks.mjs'

// .ci/run installs websockets into a virtual environment and names its
// interpreter here; otherwise python3 must have websockets installed.
const python = process.env.WEBSOCKETSTREAM_TEST_PYTHON || 'python3'

/** Starts the server with `args`; resolves the child (see spawnChild) with its `url`. */
async function pythonServer(t, args = []) {
  const server = spawnChild(t, python, [fixture('python-server.py'), ...args], { killAfterMs: 120_000 })
  const [, port] = await server.waitFor(/^PORT (\d+)$/m, 15_000)
  return { ...server, url: `ws://127.0.0.1:${port}/` }
}

const read = (reader, label = 'read') => withTimeout(reader.read(), 10_000, label)

test('echo: text (ASCII, UTF-8, empty) and binary (empty, 4 MiB) come back with their kind and content', async (t) => {
  const { url } = await pythonServer(t)
  const { wss, readable, writable } = await openStream(t, `${url}echo`)
  const writer = writable.getWriter()
  const reader = readable.getReader()
  const big = new Uint8Array(4 * MiB).map((_, i) => (i * 13) & 0xff)
  const messages = ['hello', 'wörld ☃ 🔌', '', new Uint8Array(0), new Uint8Array([0, 255, 1]), big]
  for (const message of messages) await writer.write(message)
  for (const message of messages) {
    const { value } = await read(reader)
    if (typeof message === 'string') t.is(value, message)
    else {
      t.true(value instanceof Uint8Array, 'binary comes back as a Uint8Array')
      t.is(value.byteLength, message.byteLength)
      t.true(Buffer.from(value).equals(Buffer.from(message)), 'intact')
    }
  }
  wss.close({ closeCode: 1000 })
  t.deepEqual(await withTimeout(wss.closed, 10_000, 'closed'), { closeCode: 1000, reason: '' })
})

test('fragmented messages from websockets arrive whole: text cut inside a UTF-8 sequence, binary in 64 fragments', async (t) => {
  const { url } = await pythonServer(t)
  const { wss, readable } = await openStream(t, `${url}fragments`)
  const reader = readable.getReader()
  t.is((await read(reader)).value, 'Hello, wörld ☃ in fragments')
  const { value } = await read(reader)
  t.is(value.byteLength, 64 * 1024)
  t.true(
    value.every((byte, i) => byte === ((i * 7) & 0xff)),
    'the 64 fragments joined in order',
  )
  t.is((await read(reader)).value, 'done')
  wss.close()
  t.deepEqual(await withTimeout(wss.closed, 10_000, 'closed'), { closeCode: 1005, reason: '' })
})

for (const [code, reason] of [
  [1000, ''],
  [1001, 'going away'],
  [1011, 'internal error'],
  [4000, 'custom ☃ reason'],
]) {
  test(`a Close ${code}${reason ? ` '${reason}'` : ''} from websockets resolves closed with it and ends the readable`, async (t) => {
    const { url } = await pythonServer(t)
    const query = `code=${code}&reason=${encodeURIComponent(reason)}`
    const { wss, readable } = await openStream(t, `${url}close?${query}`)
    t.deepEqual(await withTimeout(wss.closed, 10_000, 'closed'), { closeCode: code, reason })
    t.deepEqual(await read(readable.getReader()), { value: undefined, done: true })
  })
}

test('our close code and reason reach websockets and come back in closed; close() without a code reports 1005', async (t) => {
  const { url } = await pythonServer(t)
  const first = await openStream(t, `${url}echo`)
  first.wss.close({ closeCode: 4001, reason: 'bye ☃' })
  t.deepEqual(await withTimeout(first.wss.closed, 10_000, 'closed'), { closeCode: 4001, reason: 'bye ☃' })
  const second = await openStream(t, `${url}echo`)
  second.wss.close()
  t.deepEqual(await withTimeout(second.wss.closed, 10_000, 'closed'), { closeCode: 1005, reason: '' })
  const third = await openStream(t, `${url}echo`)
  await withTimeout(third.writable.getWriter().close(), 10_000, 'writer.close()')
  t.deepEqual(await withTimeout(third.wss.closed, 10_000, 'closed'), { closeCode: 1005, reason: '' })
})

test('subprotocols: websockets selects by its own preference among ours; with none offered, none is selected', async (t) => {
  const { url } = await pythonServer(t)
  const both = await openStream(t, `${url}subprotocol`, { protocols: ['chat', 'superchat'] })
  t.is(both.protocol, 'superchat', "the server's preferred one")
  t.is((await read(both.readable.getReader())).value, 'selected superchat')
  both.wss.close()
  const one = await openStream(t, `${url}subprotocol`, { protocols: ['other', 'chat'] })
  t.is(one.protocol, 'chat')
  one.wss.close()
  const none = await openStream(t, `${url}subprotocol`)
  t.is(none.protocol, '')
  t.is((await read(none.readable.getReader())).value, 'selected ')
  none.wss.close()
  const unknown = await openStream(t, `${url}subprotocol`, { protocols: ['other'] })
  t.is(unknown.protocol, '', 'an offer the server does not support: no subprotocol')
  unknown.wss.close()
  // websockets accepts permessage-deflate when offered, as we do by default.
  t.regex(both.extensions, /^permessage-deflate\b/, 'the default deflate offer is accepted')
})

// The client reads its socket, and so answers pings, while less than 1 MiB of
// received messages waits for the application (INBOUND_QUEUE_BYTES in
// src/limits.rs), whether or not the application reads. Past that bound it
// stops reading the socket: a ping behind the data is not even seen until the
// application reads and makes room (docs/design.md "Reading and
// backpressure"). So: pongs for every ping that arrives while the
// application does not read, up to the point the queue is full; then the
// ping waits with the data, and is answered once the application reads.
test('pings are answered while the application does not read, until its unread messages fill the 1 MiB queue; the ping held then is answered once it reads', async (t) => {
  // Without keepalive: its pings would time out while the client holds data back.
  const server = await pythonServer(t, ['--no-keepalive'])
  const { wss, readable } = await openStream(t, `${server.url}ping`)
  // The application reads nothing until the server has found the ping held back.
  const [, answered, sent] = (await server.waitFor(/^UNREAD answered=(\d+) sent=(\d+)$/m, 60_000)).map(Number)
  const size = 64 << 10
  t.log(
    `${answered} pings answered while ${(answered * size) / MiB} MiB waited unread; the ping after message ${sent} was held`,
  )
  // Pings 1 to 15 each followed 64 KiB more unread data, 960 KiB at the
  // most: the socket was still being read, so all of them got their pongs.
  t.true(answered >= 15, `pongs for ${answered} pings while less than 1 MiB was unread`)
  // Then the queue filled (one message in the readable's own queue, the one
  // crossing the bound taken whole) and a ping went unanswered: the pongs
  // above were answered with the queue all but full.
  t.true(answered < sent, 'a ping was held once the queue was full')
  t.true(sent * size <= MiB + 2 * size, `the client stopped reading after ${(sent * size) / MiB} MiB`)
  const reader = readable.getReader()
  for (let i = 0; i < sent; i++) {
    const { value } = await read(reader, `message ${i}`)
    t.is(value.byteLength, size)
    t.is(new DataView(value.buffer, value.byteOffset).getUint32(0), i, `message ${i} in order`)
  }
  t.is((await read(reader)).value, 'held ping answered', 'reading made room, and the held ping was answered')
  wss.close()
  t.deepEqual(await withTimeout(wss.closed, 10_000, 'closed'), { closeCode: 1005, reason: '' })
})

test('keepalive pings every 100 ms (1 s timeout) keep an idle connection open', async (t) => {
  const { url } = await pythonServer(t)
  const { wss, readable } = await openStream(t, `${url}idle`)
  t.is((await read(readable.getReader())).value, 'alive', 'websockets saw every pong in time and kept the connection')
  t.is((await standing(wss.closed, 0)).status, 'pending')
  wss.close({ closeCode: 1000 })
  t.deepEqual(await withTimeout(wss.closed, 10_000, 'closed'), { closeCode: 1000, reason: '' })
})

test("a message over websockets' max_size (8 MiB) ends the connection with its 1009", async (t) => {
  const { url } = await pythonServer(t)
  const { wss, writable } = await openStream(t, `${url}echo`)
  const write = writable.getWriter().write(new Uint8Array(9 * MiB))
  write.catch(() => {})
  const closed = await standing(wss.closed, 15_000)
  t.not(closed.status, 'pending', 'closed settles')
  // Resolved if our write had gone out before websockets' Close arrived,
  // rejected with a WebSocketError carrying 1009 if it was still pending
  // (docs/design.md "Closing": a write pending when the server's Close arrives).
  if (closed.status === 'fulfilled') {
    t.is(closed.value.closeCode, 1009)
  } else {
    t.true(closed.reason instanceof WebSocketError)
    t.is(closed.reason.closeCode, 1009, closed.reason.message)
    t.is((await standing(write, 5000)).status, 'rejected', 'the pending write rejects')
  }
  t.log(
    `closed ${closed.status}: ${JSON.stringify(closed.value ?? { closeCode: closed.reason?.closeCode, reason: closed.reason?.reason })}`,
  )
})

// --- permessage-deflate (RFC 7692) with websockets ------------------------------------
// websockets accepts our default offer with 12-bit windows both ways and
// compresses everything it sends; we compress from 1024 bytes (README
// "Compression"). The /compression route reports what websockets agreed to
// and counts the messages that crossed compressed in each direction, so
// "compressed both ways" is checked at the other end, not assumed.

const COMPRESSED_ANSWER = 'permessage-deflate; server_max_window_bits=12; client_max_window_bits=12'

test('permessage-deflate: extensions is websockets answer, and websockets agreed to the same 12-bit windows', async (t) => {
  const { url } = await pythonServer(t)
  const { wss, readable, extensions } = await openStream(t, `${url}compression`)
  t.is(extensions, COMPRESSED_ANSWER)
  t.deepEqual(JSON.parse((await read(readable.getReader())).value), [
    {
      server_no_context_takeover: false,
      client_no_context_takeover: false,
      server_max_window_bits: 12,
      client_max_window_bits: 12,
    },
  ])
  wss.close()
})

test('permessage-deflate: text and binary up to 4 MiB echo intact, compressed both ways', async (t) => {
  const { url } = await pythonServer(t)
  const { wss, readable, writable } = await openStream(t, `${url}compression`)
  const reader = readable.getReader()
  const writer = writable.getWriter()
  await read(reader, 'the settings')
  // sampleMessage repeats runs up to 20 KiB back: had the client ignored
  // client_max_window_bits=12 (4 KiB), websockets' 12-bit inflater would
  // refuse the data and close with 1002.
  const messages = [0, 10, 1000, 1024, 5000, 64 << 10, MiB, 4 * MiB].flatMap((size) => [
    sampleMessage(size, { text: true }),
    sampleMessage(size),
  ])
  for (const message of messages) await writer.write(message)
  for (const message of messages) {
    const { value } = await read(reader)
    if (typeof message === 'string') t.true(value === message, `text of ${Buffer.byteLength(message)} bytes intact`)
    else t.true(Buffer.from(value).equals(message), `binary of ${message.length} bytes intact`)
  }
  await writer.write('count')
  const counts = JSON.parse((await read(reader, 'the counts')).value)
  const large = messages.filter((message) => Buffer.byteLength(message) >= 1024).length
  t.is(counts.compressed_received, large, 'websockets received compressed every message of 1024 bytes and more')
  // Its settings message, then every echo.
  t.is(counts.compressed_sent, 1 + messages.length, 'websockets sent every message compressed')
  wss.close({ closeCode: 1000 })
  t.deepEqual(await withTimeout(wss.closed, 10_000, 'closed'), { closeCode: 1000, reason: '' })
})

test('permessage-deflate: perMessageDeflate: false agrees to nothing with websockets, and echoes still work', async (t) => {
  const { url } = await pythonServer(t)
  const { wss, readable, writable, extensions } = await openStream(t, `${url}compression`, { perMessageDeflate: false })
  t.is(extensions, '')
  const reader = readable.getReader()
  t.deepEqual(JSON.parse((await read(reader, 'the settings')).value), [])
  const message = sampleMessage(64 << 10, { text: true })
  await writable.getWriter().write(message)
  t.true((await read(reader)).value === message)
  wss.close()
})
