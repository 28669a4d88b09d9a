// Compressed frames on the wire, against raw servers that answer
// permessage-deflate and write (or read) every byte themselves (RFC 7692;
// docs/design.md "Closing" for the Close codes of violations): RFC 7692
// §7.2.3's examples, context takeover, fragments with control frames
// between them, compressed and plain messages mixed, Autobahn 12.*-like
// echoes, what is a violation (RSV1 where it may not be, corrupt data,
// invalid UTF-8 after inflating), TCP ending inside a compressed message,
// maxMessageSize counting inflated bytes, and what the client sends: the
// threshold, the level, and the window and context the server allowed it.
import test from 'ava'
import zlib from 'node:zlib'
import {
  DEFLATE_TAIL,
  OPCODE,
  closeFrame,
  dataMessages,
  encodeFrame,
  messageDeflater,
  messageFrames,
  messageInflater,
  sampleMessage,
  textFrame,
} from './helpers/raw-server.mjs'
import { rejectionOf, withTimeout } from './helpers/settle.mjs'
import { assertWebSocketError } from './helpers/errors.mjs'
import { openedRawClientFor } from './helpers/fixtures.mjs'

const MiB = 1 << 20
const hex = (text) => Buffer.from(text.replace(/\s+/g, ''), 'hex')

/**
 * An open client of a raw server whose 101 answered `answer` as
 * Sec-WebSocket-Extensions and carried `trailing` bytes in the same write:
 * the server's { socket, frames } and the client's { wss, readable,
 * writable, extensions }, with a `reader` and a `writer` on the streams.
 */
async function openedDeflateClient(t, { answer = 'permessage-deflate', options, trailing } = {}) {
  const client = await openedRawClientFor(t, {
    options,
    server: { handshake: { extraHeaders: [`Sec-WebSocket-Extensions: ${answer}`], trailing } },
  })
  t.is(client.extensions, answer)
  return { ...client, reader: client.readable.getReader(), writer: client.writable.getWriter() }
}

const read = async (reader, label = 'a message') => (await withTimeout(reader.read(), 10_000, label)).value

/** Reads `expected.length` messages; each must be exactly its counterpart (string: text, Buffer: binary). */
async function assertReads(t, reader, expected) {
  for (const [i, message] of expected.entries()) {
    const value = await read(reader, `message ${i}`)
    if (typeof message === 'string') {
      t.is(typeof value, 'string', `message ${i} is text`)
      t.true(value === message, `message ${i} is intact`)
    } else {
      t.true(value instanceof Uint8Array, `message ${i} is binary`)
      t.true(Buffer.from(value).equals(message), `message ${i} is intact`)
    }
  }
}

/**
 * The server writes `bytes`; the client must fail the connection: its Close
 * carries `code`, it drops TCP, and `closed` rejects with a WebSocketError
 * 1006 (a failed connection, RFC 6455 §7.1.7).
 */
async function assertFails(t, client, bytes, code) {
  client.socket.write(Buffer.concat([bytes].flat()))
  const sent = await client.frames.closeFrame(10_000)
  t.is(sent.code, code, `the client's Close carries ${code}`)
  t.is(sent.frame.rsv, 0, 'a control frame never has RSV1 (RFC 7692 §6)')
  await withTimeout(client.frames.ended, 10_000, 'the client drops TCP after its Close')
  assertWebSocketError(t, await rejectionOf(client.wss.closed, 10_000, 'closed'), { closeCode: 1006 }, 'closed')
}

// --- RFC 7692 §7.2.3: the examples, byte for byte ---------------------------------

test('§7.2.3.1: "Hello" in one compressed frame (c1 07 f2 48 cd c9 c9 07 00)', async (t) => {
  const { socket, reader } = await openedDeflateClient(t)
  socket.write(hex('c1 07 f2 48 cd c9 c9 07 00'))
  t.is(await read(reader), 'Hello')
})

test('§7.2.3.1: "Hello" compressed in two fragments (41 03 f2 48 cd, 80 04 c9 c9 07 00)', async (t) => {
  const { socket, reader } = await openedDeflateClient(t)
  socket.write(hex('41 03 f2 48 cd'))
  socket.write(hex('80 04 c9 c9 07 00'))
  t.is(await read(reader), 'Hello')
})

test('§7.2.3.2: a second "Hello" that refers to the first through the shared window (c1 05 f2 00 11 00 00)', async (t) => {
  const { socket, reader } = await openedDeflateClient(t)
  socket.write(Buffer.concat([hex('c1 07 f2 48 cd c9 c9 07 00'), hex('c1 05 f2 00 11 00 00')]))
  t.is(await read(reader), 'Hello')
  t.is(await read(reader), 'Hello', 'the window carried over')
})

test('§7.2.3.2: with server_no_context_takeover, the second "Hello" is compressed alone again', async (t) => {
  const { socket, reader } = await openedDeflateClient(t, { answer: 'permessage-deflate; server_no_context_takeover' })
  socket.write(Buffer.concat([hex('c1 07 f2 48 cd c9 c9 07 00'), hex('c1 07 f2 48 cd c9 c9 07 00')]))
  t.is(await read(reader), 'Hello')
  t.is(await read(reader), 'Hello')
})

test('§7.2.3.3: "Hello" in a DEFLATE block with no compression (c1 0b 00 05 00 fa ff 48 65 6c 6c 6f 00)', async (t) => {
  const { socket, reader } = await openedDeflateClient(t)
  socket.write(hex('c1 0b 00 05 00 fa ff 48 65 6c 6c 6f 00'))
  t.is(await read(reader), 'Hello')
})

test('§7.2.3.4: "Hello" in a block with BFINAL set (c1 08 f3 48 cd c9 c9 07 00 00)', async (t) => {
  const { socket, reader } = await openedDeflateClient(t)
  socket.write(hex('c1 08 f3 48 cd c9 c9 07 00 00'))
  t.is(await read(reader), 'Hello')
})

// zlib's own Z_FINISH output ends in a BFINAL block, without the sync-flush
// tail. After a final block the compressed stream has ended: the message
// after it starts a new one, which must not trip over the old one's end.
test('§7.2.3.4: messages compressed to a final block (zlib deflateRawSync) each inflate, and so does the next', async (t) => {
  const { socket, reader } = await openedDeflateClient(t)
  const first = sampleMessage(3000, { text: true })
  const second = sampleMessage(5000, { seed: 2 })
  const third = sampleMessage(2000, { text: true, seed: 3 })
  socket.write(
    Buffer.concat([
      ...messageFrames(OPCODE.TEXT, zlib.deflateRawSync(Buffer.from(first))),
      ...messageFrames(OPCODE.BINARY, zlib.deflateRawSync(second), { fragmentSize: 700 }),
      ...messageFrames(OPCODE.TEXT, messageDeflater()(third)),
    ]),
  )
  await assertReads(t, reader, [first, second, third])
})

test('§7.2.3.5: "Hello" in two DEFLATE blocks in one message (f2 48 05 00 00 00 ff ff ca c9 c9 07 00)', async (t) => {
  const { socket, reader } = await openedDeflateClient(t)
  socket.write(hex('c1 0d f2 48 05 00 00 00 ff ff ca c9 c9 07 00'))
  t.is(await read(reader), 'Hello')
})

test('§7.2.3.6: empty compressed messages (payload 00), text and binary, whole and as an empty fragment then 00', async (t) => {
  const { socket, reader } = await openedDeflateClient(t)
  socket.write(Buffer.concat([hex('c1 01 00'), hex('c2 01 00'), hex('41 00'), hex('80 01 00'), textFrame('after')]))
  t.is(await read(reader), '')
  const binary = await read(reader)
  t.true(binary instanceof Uint8Array)
  t.is(binary.byteLength, 0)
  t.is(await read(reader), '')
  t.is(await read(reader), 'after')
})

// --- receiving ---------------------------------------------------------------------

test('compressed messages sharing one window, whole and fragmented, pings between fragments, plain messages between compressed ones', async (t) => {
  const { socket, frames, reader } = await openedDeflateClient(t)
  const deflate = messageDeflater()
  const expected = []
  const bytes = []
  let pings = 0
  for (let i = 0; i < 40; i++) {
    const text = i % 3 !== 2
    const message = sampleMessage(10 + ((i * 997) % 20_000), { text, seed: i })
    expected.push(text ? message : Buffer.from(message))
    const opcode = text ? OPCODE.TEXT : OPCODE.BINARY
    if (i % 5 === 4) {
      // Plain, RSV1 clear (RFC 7692 §6): it never enters the sender's window.
      bytes.push(...messageFrames(opcode, message, { compressed: false, fragmentSize: 1000 }))
      continue
    }
    const fragments = messageFrames(opcode, deflate(message), { fragmentSize: 1 + ((i * 331) % 3000) })
    // A control frame may come between the fragments of a message (RFC 6455 §5.4).
    if (fragments.length > 1) {
      fragments.splice(1, 0, encodeFrame({ opcode: OPCODE.PING, payload: `ping ${i}` }))
      pings++
    }
    bytes.push(...fragments)
  }
  socket.write(Buffer.concat(bytes))
  await assertReads(t, reader, expected)
  const isPong = (frame) => frame.opcode === OPCODE.PONG
  await frames.until(() => frames.frames.filter(isPong).length >= pings, 5000, `${pings} pongs`)
  t.true(
    frames.frames.filter(isPong).every((pong) => pong.rsv === 0 && /^ping \d+$/.test(pong.payload.toString())),
    'each pong echoes its ping, without RSV1',
  )
})

test('a compressed message whose last fragment is empty inflates whole', async (t) => {
  const { socket, reader } = await openedDeflateClient(t)
  const message = sampleMessage(2000, { text: true })
  socket.write(
    Buffer.concat([
      encodeFrame({ opcode: OPCODE.TEXT, payload: messageDeflater()(message), fin: false, rsv: 0b100 }),
      encodeFrame({ opcode: OPCODE.CONTINUATION, payload: Buffer.alloc(0) }),
    ]),
  )
  t.is(await read(reader), message)
})

test('compressed frames written in the same write as the 101 are inflated, and the window carries on after', async (t) => {
  const deflate = messageDeflater()
  const first = sampleMessage(4000, { text: true, seed: 7 })
  const { socket, reader } = await openedDeflateClient(t, {
    trailing: Buffer.concat(messageFrames(OPCODE.TEXT, deflate(first), { fragmentSize: 512 })),
  })
  t.is(await read(reader), first)
  socket.write(Buffer.concat(messageFrames(OPCODE.TEXT, deflate(first))))
  t.is(await read(reader), first)
})

// Autobahn's cases 12.* send compressible messages of 16 B to 128 KiB,
// fragmenting the compressed payload at 256 B to 32 KiB, and expect them
// echoed. Autobahn sends 1000 messages per case; 100 per size here keep the
// four tests to a few seconds. Both directions use context takeover: the
// server inflates the echoes with one window from first to last.
const AUTOBAHN_SIZES = [16, 64, 256, 1 << 10, 4 << 10, 16 << 10, 64 << 10, 128 << 10]
const AUTOBAHN_MESSAGES = 100

for (const fragmentSize of [256, 1 << 10, 4 << 10, 32 << 10]) {
  test(`Autobahn 12.*-like: ${AUTOBAHN_MESSAGES} messages of each size from 16 B to 128 KiB, compressed in fragments of ${fragmentSize} B, echo intact`, async (t) => {
    for (const size of AUTOBAHN_SIZES) {
      const { socket, frames, reader, writer } = await openedDeflateClient(t)
      const deflate = messageDeflater()
      const sent = []
      const bytes = []
      for (let i = 0; i < AUTOBAHN_MESSAGES; i++) {
        const text = i % 2 === 0
        const message = sampleMessage(size, { text, seed: size + i })
        sent.push({ opcode: text ? OPCODE.TEXT : OPCODE.BINARY, bytes: Buffer.from(message) })
        bytes.push(...messageFrames(text ? OPCODE.TEXT : OPCODE.BINARY, deflate(message), { fragmentSize }))
      }
      socket.write(Buffer.concat(bytes))
      for (let i = 0; i < AUTOBAHN_MESSAGES; i++) await writer.write(await read(reader, `message ${i} of ${size} B`))
      const isLast = (frame) => frame.fin && frame.opcode < OPCODE.CLOSE
      await frames.until(() => frames.frames.filter(isLast).length >= AUTOBAHN_MESSAGES, 20_000, 'the echoes')
      const inflate = messageInflater()
      const echoes = dataMessages(frames.frames)
      let intact = 0
      for (const [i, echo] of echoes.entries()) {
        const payload = echo.rsv1 ? inflate(echo.payload) : echo.payload
        if (echo.opcode === sent[i].opcode && payload.equals(sent[i].bytes)) intact++
      }
      t.is(intact, AUTOBAHN_MESSAGES, `${size} B: every echo intact`)
      // The client's default threshold: 1024 bytes and more go out compressed.
      const large = sent.filter((message) => message.bytes.length >= 1024).length
      t.is(echoes.filter((echo) => echo.rsv1).length, large, `${size} B: the echoes of 1024 B and more compressed`)
    }
  })
}

// --- violations --------------------------------------------------------------------

const HELLO = hex('f2 48 cd c9 c9 07 00')

test('RSV1 on a continuation frame of a compressed message: Close 1002 (RFC 7692 §6)', async (t) => {
  const client = await openedDeflateClient(t)
  const [first, second] = messageFrames(OPCODE.TEXT, HELLO, { fragmentSize: 3 })
  second[0] |= 0x40
  await assertFails(t, client, [first, second], 1002)
})

test('RSV1 on a continuation frame of a plain message: Close 1002 (RFC 7692 §6)', async (t) => {
  const client = await openedDeflateClient(t)
  await assertFails(
    t,
    client,
    [
      encodeFrame({ opcode: OPCODE.TEXT, payload: 'He', fin: false }),
      encodeFrame({ opcode: OPCODE.CONTINUATION, payload: HELLO, rsv: 0b100 }),
    ],
    1002,
  )
})

for (const [name, opcode, payload] of [
  ['ping', OPCODE.PING, 'ping'],
  ['pong', OPCODE.PONG, 'pong'],
  ['Close', OPCODE.CLOSE, Buffer.from([0x03, 0xe8])],
]) {
  test(`RSV1 on a ${name} frame: Close 1002 (RFC 7692 §6: never on control frames)`, async (t) => {
    const client = await openedDeflateClient(t)
    await assertFails(t, client, encodeFrame({ opcode, payload, rsv: 0b100 }), 1002)
  })
}

test('RSV1 on a ping between the fragments of a compressed message: Close 1002', async (t) => {
  const client = await openedDeflateClient(t)
  const [first, second] = messageFrames(OPCODE.TEXT, HELLO, { fragmentSize: 3 })
  await assertFails(t, client, [first, encodeFrame({ opcode: OPCODE.PING, payload: 'p', rsv: 0b100 }), second], 1002)
})

// RFC 6455 §5.2: a reserved bit no negotiated extension defines fails the
// connection, on a compressed message too.
test('RSV2 or RSV3 on a compressed message: Close 1002 (RFC 7692 defines RSV1 only)', async (t) => {
  for (const rsv of [0b110, 0b101]) {
    const client = await openedDeflateClient(t)
    await assertFails(t, client, encodeFrame({ opcode: OPCODE.TEXT, payload: HELLO, rsv }), 1002)
  }
})

test('a compressed message when perMessageDeflate: false offered nothing: Close 1002', async (t) => {
  const client = await openedRawClientFor(t, { options: { perMessageDeflate: false } })
  t.is(client.extensions, '')
  await assertFails(t, client, encodeFrame({ opcode: OPCODE.TEXT, payload: HELLO, rsv: 0b100 }), 1002)
})

// RFC 6455 §5.4: once a message has begun, only its continuations (and
// control frames) may come until its last frame, also after a first
// fragment too short to have inflated anything yet.
for (const [name, firstFragment, next] of [
  ['a plain data frame after a 30-byte compressed first fragment', 30, () => textFrame('x')],
  ['a plain data frame after a 1000-byte compressed first fragment', 1000, () => textFrame('x')],
  ['a compressed data frame after a compressed first fragment', 30, () => messageFrames(OPCODE.TEXT, HELLO)],
  ['a compressed data frame after a plain first fragment', 0, () => messageFrames(OPCODE.TEXT, HELLO)],
  ['a compressed continuation with no message begun', -1, () => messageFrames(OPCODE.CONTINUATION, HELLO)],
]) {
  test(`${name}: Close 1002`, async (t) => {
    const client = await openedDeflateClient(t)
    const payload = messageDeflater()(sampleMessage(20_000, { text: true }))
    const first =
      firstFragment > 0
        ? messageFrames(OPCODE.TEXT, payload, { fragmentSize: firstFragment }).slice(0, 1)
        : firstFragment === 0
          ? [encodeFrame({ opcode: OPCODE.TEXT, payload: 'plain', fin: false })]
          : []
    await assertFails(t, client, [...first, next()].flat(), 1002)
  })
}

for (const [name, payload] of [
  ['a reserved block type (BTYPE 11)', hex('ff ff ff')],
  ['a stored block whose NLEN does not match LEN', hex('00 05 00 00 00 48 65 6c 6c 6f')],
  ['a reference before the first byte ever inflated (§7.2.3.2 second message sent first)', hex('f2 00 11 00 00')],
]) {
  test(`corrupt compressed data, ${name}: Close 1007`, async (t) => {
    const client = await openedDeflateClient(t)
    await assertFails(t, client, messageFrames(OPCODE.BINARY, payload), 1007)
  })
}

test('corrupt compressed data in the last fragment of a message after a good one: Close 1007, the good one readable', async (t) => {
  const client = await openedDeflateClient(t)
  const deflate = messageDeflater()
  const good = sampleMessage(3000, { text: true })
  client.socket.write(Buffer.concat(messageFrames(OPCODE.TEXT, deflate(good))))
  t.is(await read(client.reader), good)
  // Whole blocks of good data, then a block of the reserved type 11: a cut
  // inside a block would not do, the bytes after it may still decode.
  const payload = deflate(sampleMessage(3000, { text: true, seed: 1 }))
  const corrupt = Buffer.concat([payload, DEFLATE_TAIL, hex('ff ff ff')])
  await assertFails(t, client, messageFrames(OPCODE.TEXT, corrupt, { fragmentSize: 20 }), 1007)
})

test('text that is not UTF-8 once inflated: Close 1007, whole or fragmented', async (t) => {
  // 'hi' then 0xff 0xfe, which are never UTF-8; compressed, the frame itself
  // says nothing about UTF-8.
  const invalid = zlib.deflateRawSync(Buffer.from([0x68, 0x69, 0xff, 0xfe]), {
    finishFlush: zlib.constants.Z_SYNC_FLUSH,
  })
  const payload = invalid.subarray(0, invalid.length - 4)
  for (const fragmentSize of [Number.POSITIVE_INFINITY, 2]) {
    const client = await openedDeflateClient(t)
    await assertFails(t, client, messageFrames(OPCODE.TEXT, payload, { fragmentSize }), 1007)
  }
})

// --- the server ending TCP inside a compressed message ----------------------------------

// An unclean end (RFC 6455 §7.1.5, §7.1.7): TCP closing mid-frame is
// "without a closing handshake", whatever the frame carries, with FIN set
// or not, first frame or continuation.
const WHOLE = Number.POSITIVE_INFINITY
for (const [where, fragmentSize, cut] of [
  ['right after the header of a compressed frame', WHOLE, (frames) => frames[0].subarray(0, 2)],
  ['right after the header of a compressed first fragment', 30, (frames) => frames[0].subarray(0, 2)],
  ['inside the payload of a compressed frame', WHOLE, (frames) => frames[0].subarray(0, 4)],
  ['inside the payload of a compressed first fragment', 30, (frames) => frames[0].subarray(0, 4)],
  [
    'inside a continuation of a compressed message',
    30,
    (frames) => Buffer.concat([frames[0], frames[1].subarray(0, 5)]),
  ],
]) {
  test(`TCP ending ${where}: closed rejects with 1006`, async (t) => {
    const client = await openedDeflateClient(t)
    const payload = messageDeflater()(sampleMessage(2000, { text: true }))
    client.socket.end(cut(messageFrames(OPCODE.TEXT, payload, { fragmentSize })))
    const error = await rejectionOf(client.wss.closed, 10_000, 'closed')
    assertWebSocketError(t, error, { closeCode: 1006 }, 'closed')
    t.regex(error.message, /without a closing handshake/)
  })
}

// --- maxMessageSize counts inflated bytes ------------------------------------------------

test('maxMessageSize counts inflated bytes: exactly the limit is read, one byte more is Close 1009', async (t) => {
  const limit = 4096
  const client = await openedDeflateClient(t, { options: { maxMessageSize: limit } })
  const deflate = messageDeflater()
  const atLimit = Buffer.alloc(limit, 0x61)
  const overLimit = Buffer.alloc(limit + 1, 0x62)
  client.socket.write(Buffer.concat(messageFrames(OPCODE.BINARY, deflate(atLimit))))
  t.true(Buffer.from(await read(client.reader)).equals(atLimit), 'the message at the limit is read')
  await assertFails(t, client, messageFrames(OPCODE.BINARY, deflate(overLimit)), 1009)
})

/** The payload of 64 MiB of zeros compressed (about 64 KiB), made 1 MiB at a time. */
function zipBomb() {
  const deflate = zlib.createDeflateRaw()
  const zeros = Buffer.alloc(MiB)
  const chunks = []
  deflate.on('data', (chunk) => chunks.push(chunk))
  for (let i = 0; i < 64; i++) deflate.write(zeros)
  return new Promise((resolve, reject) => {
    deflate.once('error', reject)
    deflate.flush(zlib.constants.Z_SYNC_FLUSH, () => {
      const compressed = Buffer.concat(chunks)
      resolve(compressed.subarray(0, compressed.length - 4))
    })
  })
}

// Serial, so that no other test of the file allocates while RSS is sampled.
for (const fragmentSize of [Number.POSITIVE_INFINITY, 1024]) {
  test.serial(
    `a zip bomb (64 MiB of zeros in ${fragmentSize === Number.POSITIVE_INFINITY ? 'one frame' : '1 KiB frames'}) with maxMessageSize 1 MiB: Close 1009, RSS grows by less than 16 MiB`,
    async (t) => {
      const bomb = await zipBomb()
      t.true(bomb.length < 128 << 10, `${bomb.length} compressed bytes`)
      const client = await openedDeflateClient(t, { options: { maxMessageSize: MiB } })
      const before = process.memoryUsage().rss
      let peak = before
      // The client inflates on its own thread: sample this process's RSS while it does.
      const sampler = setInterval(() => {
        peak = Math.max(peak, process.memoryUsage().rss)
      }, 2)
      try {
        await assertFails(t, client, messageFrames(OPCODE.BINARY, bomb, { fragmentSize }), 1009)
      } finally {
        clearInterval(sampler)
      }
      peak = Math.max(peak, process.memoryUsage().rss)
      t.log(`RSS ${(before / MiB).toFixed(1)} MiB before, peak ${(peak / MiB).toFixed(1)} MiB`)
      t.true(peak - before < 16 * MiB, `RSS grew by ${((peak - before) / MiB).toFixed(1)} MiB`)
    },
  )
}

// --- sending ---------------------------------------------------------------------------

/**
 * Writes `messages`, waits for the server to have them all, and returns the
 * client's data messages as dataMessages gives them, after checking RSV1 is
 * never set outside the first frame of a data message (RFC 7692 §6).
 */
async function sentMessages(t, { frames, writer }, messages) {
  for (const message of messages) await writer.write(message)
  const isLast = (frame) => frame.fin && frame.opcode < OPCODE.CLOSE
  await frames.until(() => frames.frames.filter(isLast).length >= messages.length, 10_000, 'the messages')
  const misplaced = frames.frames.filter(
    (frame) => frame.rsv !== 0 && frame.opcode !== OPCODE.TEXT && frame.opcode !== OPCODE.BINARY,
  )
  t.is(misplaced.length, 0, 'RSV1 only on the first frame of a data message')
  t.true(
    frames.frames.every((frame) => (frame.rsv & 0b011) === 0),
    'RSV2 and RSV3 never set',
  )
  return dataMessages(frames.frames)
}

test('by default, messages of 1024 bytes and more go out compressed and smaller ones plain; text counts UTF-8 bytes', async (t) => {
  const client = await openedDeflateClient(t)
  const messages = [
    Buffer.alloc(1023, 0x61),
    Buffer.alloc(1024, 0x61),
    'a'.repeat(1023),
    '€'.repeat(341), // 1023 bytes
    '€'.repeat(342), // 1026 bytes in 342 characters
    sampleMessage(MiB, { text: true }),
  ]
  const sent = await sentMessages(t, client, messages)
  const inflate = messageInflater()
  t.deepEqual(
    sent.map((message) => message.rsv1),
    [false, true, false, false, true, true],
  )
  for (const [i, message] of sent.entries()) {
    const payload = message.rsv1 ? inflate(message.payload) : message.payload
    t.true(payload.equals(Buffer.from(messages[i])), `message ${i} arrives intact`)
    t.is(message.opcode, typeof messages[i] === 'string' ? OPCODE.TEXT : OPCODE.BINARY)
  }
})

// An empty message compressed is an empty stored block (RFC 7692 §7.2.3.6).
test('threshold 0 compresses every message, the empty ones included', async (t) => {
  const client = await openedDeflateClient(t, { options: { perMessageDeflate: { threshold: 0 } } })
  const sent = await sentMessages(t, client, ['', new Uint8Array(0), 'x', new Uint8Array([7])])
  t.deepEqual(
    sent.map((message) => message.rsv1),
    [true, true, true, true],
  )
  const inflate = messageInflater()
  t.deepEqual(
    sent.map((message) => (message.rsv1 ? inflate(message.payload) : message.payload).toString('latin1')),
    ['', '', 'x', '\x07'],
  )
})

test('threshold 100 compresses messages from 100 bytes', async (t) => {
  const client = await openedDeflateClient(t, { options: { perMessageDeflate: { threshold: 100 } } })
  const messages = ['y'.repeat(99), 'y'.repeat(100), new Uint8Array(99), new Uint8Array(100)]
  const sent = await sentMessages(t, client, messages)
  t.deepEqual(
    sent.map((message) => message.rsv1),
    [false, true, false, true],
  )
  const inflate = messageInflater()
  for (const [i, message] of sent.entries()) {
    const payload = message.rsv1 ? inflate(message.payload) : message.payload
    t.true(payload.equals(Buffer.from(messages[i])), `message ${i} intact`)
  }
})

test('level 0 sends stored (uncompressed) DEFLATE blocks; level 9 compresses', async (t) => {
  const message = sampleMessage(64 << 10, { text: true })
  const stored = await openedDeflateClient(t, { options: { perMessageDeflate: { level: 0 } } })
  const [atLevel0] = await sentMessages(t, stored, [message])
  t.true(atLevel0.rsv1)
  t.is(atLevel0.payload[0] & 0b110, 0, 'the first block is stored (BTYPE 00)')
  t.true(atLevel0.payload.length >= Buffer.byteLength(message), 'stored blocks are no smaller than the message')
  t.true(messageInflater()(atLevel0.payload).equals(Buffer.from(message)))
  const best = await openedDeflateClient(t, { options: { perMessageDeflate: { level: 9 } } })
  const [atLevel9] = await sentMessages(t, best, [message])
  t.true(atLevel9.payload.length < Buffer.byteLength(message) * 0.8, `${atLevel9.payload.length} bytes`)
  t.true(messageInflater()(atLevel9.payload).equals(Buffer.from(message)))
})

test('with context takeover allowed, the messages inflate in order through one window', async (t) => {
  const client = await openedDeflateClient(t)
  const messages = Array.from({ length: 12 }, (_, i) =>
    sampleMessage(1500 + i * 3000, { text: i % 2 === 0, seed: i % 3 }),
  )
  const sent = await sentMessages(t, client, messages)
  const inflate = messageInflater()
  for (const [i, message] of sent.entries()) {
    t.true(inflate(message.payload).equals(Buffer.from(messages[i])), `message ${i}`)
  }
  t.log(`compressed sizes: ${sent.map((message) => message.payload.length).join(', ')}`)
})

// The same message again and again: a sender that kept its window would
// refer to the previous copy, which a fresh inflater does not have.
test('client_no_context_takeover: each message inflates on its own', async (t) => {
  const client = await openedDeflateClient(t, { answer: 'permessage-deflate; client_no_context_takeover' })
  const message = sampleMessage(8000, { text: true })
  const sent = await sentMessages(t, client, Array(6).fill(message))
  for (const [i, { payload, rsv1 }] of sent.entries()) {
    t.true(rsv1)
    t.true(messageInflater({ contextTakeover: false })(payload).equals(Buffer.from(message)), `message ${i} alone`)
  }
})

// node:zlib has no raw 8-bit window, so an agreed 8 is checked with 9: the
// client must still keep every reference within 512 bytes.
for (const [answer, windowBits, contextTakeover] of [
  ['permessage-deflate; client_max_window_bits=9', 9, true],
  ['permessage-deflate; client_max_window_bits=8', 9, true],
  ['permessage-deflate; client_max_window_bits=10; client_no_context_takeover', 10, false],
  ['permessage-deflate; client_max_window_bits=12', 12, true],
]) {
  test(`"${answer}": every message inflates with a ${windowBits}-bit window`, async (t) => {
    const client = await openedDeflateClient(t, { answer })
    // sampleMessage repeats runs from 600 bytes to 20 KiB back: a sender with
    // a larger window would refer past the agreed one.
    const messages = Array.from({ length: 8 }, (_, i) => sampleMessage(4000 + i * 9000, { text: i % 2 === 1, seed: i }))
    const sent = await sentMessages(t, client, messages)
    const inflate = messageInflater({ windowBits, contextTakeover })
    for (const [i, message] of sent.entries()) {
      t.true(message.rsv1)
      t.true(inflate(message.payload).equals(Buffer.from(messages[i])), `message ${i}`)
    }
  })
}

test('a compressed exchange ends with an ordinary closing handshake', async (t) => {
  const client = await openedDeflateClient(t)
  const deflate = messageDeflater()
  client.socket.write(
    Buffer.concat([...messageFrames(OPCODE.TEXT, deflate('x'.repeat(5000))), closeFrame(1000, 'done')]),
  )
  t.is(await read(client.reader), 'x'.repeat(5000))
  const sent = await client.frames.closeFrame()
  t.is(sent.code, 1000)
  t.is(sent.frame.rsv, 0)
  client.socket.end()
  t.deepEqual(await withTimeout(client.wss.closed, 10_000, 'closed'), { closeCode: 1000, reason: 'done' })
})
