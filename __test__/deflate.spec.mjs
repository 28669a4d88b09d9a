// permessage-deflate (RFC 7692) from the opening handshake's side, and
// echoes through `ws` 8.23 servers that compress: the `perMessageDeflate`
// option (README "Node options"), the offer the request carries, which
// answers the client accepts (RFC 7692 §7: the client fails the connection
// on an answer with an unknown, repeated or invalid parameter, or on one it
// did not offer), what `extensions` reports, and messages of every size
// coming back intact through each server configuration. How compressed
// frames themselves are read and written is deflate-raw.spec.mjs.
import test from 'ava'
import { randomBytes } from 'node:crypto'
import { WebSocketStream } from '../index.mjs'
import { sampleMessage, startRawWebSocketServer } from './helpers/raw-server.mjs'
import { rejectionOf, withTimeout } from './helpers/settle.mjs'
import { assertTypeError, assertWebSocketError, thrownBy } from './helpers/errors.mjs'
import { clientFor, openedClientFor, recordingServer, wsServerFor } from './helpers/fixtures.mjs'

const MiB = 1 << 20
const OFFER = 'permessage-deflate; client_max_window_bits'

// --- the option -----------------------------------------------------------------

test('perMessageDeflate takes true, false or { threshold, level } within range', (t) => {
  for (const perMessageDeflate of [
    undefined,
    true,
    false,
    {},
    { threshold: 0 },
    { threshold: 2 ** 32 - 1 },
    { level: 0 },
    { level: 9 },
    { threshold: 1, level: 1 },
  ]) {
    // Port 1 refuses; close() ends the attempt at once.
    const wss = new WebSocketStream('ws://127.0.0.1:1/', { perMessageDeflate })
    wss.close()
    t.pass()
  }
})

test('a bad perMessageDeflate is a TypeError from the constructor naming perMessageDeflate', (t) => {
  for (const perMessageDeflate of [
    null,
    'true',
    1,
    0,
    { threshold: -1 },
    { threshold: 1.5 },
    { threshold: '1024' },
    { threshold: Number.NaN },
    { threshold: 2 ** 32 },
    { level: -1 },
    { level: 10 },
    { level: 2.5 },
    { level: '6' },
  ]) {
    const label = `perMessageDeflate: ${typeof perMessageDeflate === 'object' ? JSON.stringify(perMessageDeflate) : String(perMessageDeflate)}`
    const error = thrownBy(t, () => new WebSocketStream('ws://127.0.0.1:1/', { perMessageDeflate }), label)
    assertTypeError(t, error, label)
    t.regex(error?.message ?? '', /perMessageDeflate/, label)
  }
})

// --- the offer --------------------------------------------------------------------

/** The Sec-WebSocket-Extensions lines of a recorded upgrade request. */
function extensionHeaders(request) {
  const values = []
  for (let i = 0; i < request.rawHeaders.length; i += 2) {
    if (/^sec-websocket-extensions$/i.test(request.rawHeaders[i])) values.push(request.rawHeaders[i + 1])
  }
  return values
}

test('the request offers exactly "permessage-deflate; client_max_window_bits" by default, and whatever the settings', async (t) => {
  const server = await recordingServer(t)
  for (const options of [undefined, { perMessageDeflate: true }, { perMessageDeflate: { threshold: 0, level: 9 } }]) {
    await openedClientFor(t, server.url, options)
  }
  t.is(server.requests.length, 3)
  for (const request of server.requests) t.deepEqual(extensionHeaders(request), [OFFER])
})

test('perMessageDeflate: false sends no Sec-WebSocket-Extensions; a compressing ws server then answers none', async (t) => {
  const server = await recordingServer(t, { perMessageDeflate: { threshold: 0 } })
  const { readable, writable, extensions } = await openedClientFor(t, server.url, { perMessageDeflate: false })
  t.deepEqual(extensionHeaders(server.requests[0]), [])
  t.is(extensions, '')
  const message = sampleMessage(64 << 10, { text: true })
  await writable.getWriter().write(message)
  t.is((await withTimeout(readable.getReader().read(), 5000, 'the echo')).value, message)
})

// --- the answer ----------------------------------------------------------------------

/** A client of a raw server whose 101 carries one Sec-WebSocket-Extensions line per item of `answers`. */
async function clientAnswered(t, answers, options) {
  const server = await startRawWebSocketServer(t, {
    handshake: { extraHeaders: answers.map((answer) => `Sec-WebSocket-Extensions: ${answer}`) },
  })
  return clientFor(t, server.url, options)
}

// Answers no client may accept, each with the word its failure must name.
// RFC 7692 §7 lists the grounds: a parameter not defined for a response, an
// invalid value, a repeated parameter; §7.1.1.1/§7.1.1.2: the no-context-
// takeover parameters have no value; §7.1.2.1/§7.1.2.2: window bits are a
// decimal 8 to 15 without leading zeroes; RFC 6455 §9.1: an extension that
// was not offered fails the connection.
const REFUSED_ANSWERS = [
  [['permessage-deflate; server_max_window_bits=7'], /server_max_window_bits/],
  [['permessage-deflate; server_max_window_bits=16'], /server_max_window_bits/],
  [['permessage-deflate; server_max_window_bits'], /server_max_window_bits/],
  [['permessage-deflate; server_max_window_bits=ten'], /server_max_window_bits/],
  [['permessage-deflate; client_max_window_bits=7'], /client_max_window_bits/],
  [['permessage-deflate; client_max_window_bits=16'], /client_max_window_bits/],
  [['permessage-deflate; client_max_window_bits="x"'], /client_max_window_bits/],
  [['permessage-deflate; server_no_context_takeover=1'], /server_no_context_takeover/],
  [['permessage-deflate; client_no_context_takeover="true"'], /client_no_context_takeover/],
  [['permessage-deflate; server_no_context_takeover; server_no_context_takeover'], /server_no_context_takeover/],
  [['permessage-deflate; client_max_window_bits=10; client_max_window_bits=10'], /client_max_window_bits/],
  [['permessage-deflate; server_max_window_bits=10; server_max_window_bits=12'], /server_max_window_bits/],
  [['permessage-deflate; mystery_parameter=1'], /mystery_parameter/],
  [['permessage-deflate; mystery_flag'], /mystery_flag/],
  [['x-webkit-deflate-frame'], /x-webkit-deflate-frame/],
  [['permessage-deflate, permessage-deflate'], /permessage-deflate/],
  [['permessage-deflate', 'permessage-deflate'], /permessage-deflate/],
  [['permessage-deflate, x-custom-extension'], /x-custom-extension/],
]

for (const [answers, named] of REFUSED_ANSWERS) {
  test(`the answer ${answers.map((answer) => `"${answer}"`).join(' + ')} fails the handshake, naming ${named.source}`, async (t) => {
    const wss = await clientAnswered(t, answers)
    const [openedError, closedError] = await Promise.all([
      rejectionOf(wss.opened, 10_000, 'opened'),
      rejectionOf(wss.closed, 10_000, 'closed'),
    ])
    assertWebSocketError(t, openedError, { closeCode: null }, 'opened')
    assertWebSocketError(t, closedError, { closeCode: 1006 }, 'closed')
    t.regex(openedError.message, named, 'opened: the message names what was wrong')
  })
}

// RFC 7692 §7.1.2.1 gives the value as "a decimal integer value without
// leading zeroes", and §7 has the client fail the connection on an invalid value.
test('the answer "permessage-deflate; server_max_window_bits=09" fails the handshake (a leading zero)', async (t) => {
  const wss = await clientAnswered(t, ['permessage-deflate; server_max_window_bits=09'])
  const openedError = await rejectionOf(wss.opened, 10_000, 'opened')
  assertWebSocketError(t, openedError, { closeCode: null }, 'opened')
  t.regex(openedError.message, /server_max_window_bits/)
})

test('any extension in the answer fails the handshake when perMessageDeflate: false offered none', async (t) => {
  const wss = await clientAnswered(t, ['permessage-deflate'], { perMessageDeflate: false })
  const openedError = await rejectionOf(wss.opened, 10_000, 'opened')
  assertWebSocketError(t, openedError, { closeCode: null }, 'opened')
  t.regex(openedError.message, /permessage-deflate/)
  assertWebSocketError(t, await rejectionOf(wss.closed, 10_000, 'closed'), { closeCode: 1006 }, 'closed')
})

// Answers a client must accept, and `extensions` is each exactly as the
// server wrote it. §7.1.1.1, §7.1.1.2, §7.1.2.1: the server may add the
// no-context-takeover parameters and server_max_window_bits unasked;
// §7.1.2.2: client_max_window_bits only because we offered it; RFC 6455 §9.1:
// a value may be a quoted string.
const ACCEPTED_ANSWERS = [
  'permessage-deflate',
  'permessage-deflate; client_max_window_bits=15',
  'permessage-deflate; server_max_window_bits="10"',
  'permessage-deflate; client_max_window_bits="9"',
  'permessage-deflate;server_no_context_takeover;client_max_window_bits=12',
  'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=8; client_max_window_bits=8',
]

for (const answer of ACCEPTED_ANSWERS) {
  test(`the answer "${answer}" is accepted and is what extensions reports`, async (t) => {
    const wss = await clientAnswered(t, [answer])
    const { extensions } = await withTimeout(wss.opened, 10_000, 'opened')
    t.is(extensions, answer)
  })
}

// --- echoes through ws servers ------------------------------------------------

// Each ws configuration echoes these; `ws` compresses what it sends from its
// `threshold` (1024 bytes by default, 0 in most variants so that small
// messages come compressed too), and the client from its own (1024 unless the
// variant says otherwise).
const SIZES = [0, 1, 125, 126, 1000, 1023, 1024, 65535, 65536, MiB]

const VARIANTS = [
  { name: 'ws defaults', server: true, answer: /^permessage-deflate$/ },
  {
    name: 'threshold 0 both ways',
    server: { threshold: 0 },
    client: { perMessageDeflate: { threshold: 0 } },
    answer: /^permessage-deflate$/,
  },
  {
    name: 'serverNoContextTakeover',
    server: { threshold: 0, serverNoContextTakeover: true },
    answer: /server_no_context_takeover/,
  },
  {
    name: 'clientNoContextTakeover',
    server: { threshold: 0, clientNoContextTakeover: true },
    client: { perMessageDeflate: { threshold: 0 } },
    answer: /client_no_context_takeover/,
  },
  {
    name: 'serverMaxWindowBits 9, clientMaxWindowBits 9',
    server: { threshold: 0, serverMaxWindowBits: 9, clientMaxWindowBits: 9 },
    client: { perMessageDeflate: { threshold: 0 } },
    answer: /(?=.*server_max_window_bits=9)(?=.*client_max_window_bits=9)/,
  },
  {
    name: 'serverMaxWindowBits 15, clientMaxWindowBits 15',
    server: { threshold: 0, serverMaxWindowBits: 15, clientMaxWindowBits: 15 },
    answer: /(?=.*server_max_window_bits=15)(?=.*client_max_window_bits=15)/,
  },
  {
    name: 'everything restricted, client level 9',
    server: {
      threshold: 0,
      serverNoContextTakeover: true,
      clientNoContextTakeover: true,
      serverMaxWindowBits: 10,
      clientMaxWindowBits: 11,
    },
    client: { perMessageDeflate: { threshold: 0, level: 9 } },
    answer: /(?=.*server_no_context_takeover)(?=.*client_no_context_takeover)(?=.*client_max_window_bits=11)/,
  },
]

/** A compressing ws echo server; `answers` collects the Sec-WebSocket-Extensions value of each 101 it writes. */
async function compressingEchoServer(t, perMessageDeflate) {
  const server = await wsServerFor(t, undefined, { perMessageDeflate })
  const answers = []
  server.wss.on('headers', (headers) => {
    const line = headers.find((header) => /^sec-websocket-extensions:/i.test(header))
    answers.push(line === undefined ? null : line.slice(line.indexOf(':') + 1).trim())
  })
  return { ...server, answers }
}

/** Writes every message, then reads as many back: each must come back with its kind and every byte. */
async function assertEchoes(t, { readable, writable }, messages) {
  const writer = writable.getWriter()
  const reader = readable.getReader()
  for (const message of messages) await withTimeout(writer.write(message), 20_000, 'a write')
  for (const message of messages) {
    const label = `${typeof message === 'string' ? 'text' : 'binary'} of ${Buffer.byteLength(message)} bytes`
    const { value } = await withTimeout(reader.read(), 20_000, label)
    if (typeof message === 'string') {
      t.is(typeof value, 'string', `${label}: text`)
      // t.is would print 16 MiB on failure.
      t.true(value === message, `${label}: intact`)
    } else {
      t.true(value instanceof Uint8Array, `${label}: binary`)
      t.true(Buffer.from(value.buffer, value.byteOffset, value.byteLength).equals(message), `${label}: intact`)
    }
  }
  writer.releaseLock()
  reader.releaseLock()
}

// Serial: each moves some 70 MiB through zlib on both sides, and ws's side
// shares this process's event loop with every other test in the file.
VARIANTS.forEach((variant, index) => {
  test.serial(
    `ws (${variant.name}): text and binary from 0 B to 16 MiB echo intact; extensions is ws's answer`,
    async (t) => {
      const server = await compressingEchoServer(t, variant.server)
      const client = await openedClientFor(t, server.url, variant.client)
      t.is(server.answers.length, 1)
      t.is(client.extensions, server.answers[0], "extensions is exactly the server's answer")
      t.regex(client.extensions, variant.answer)
      const messages = SIZES.flatMap((size) => [
        sampleMessage(size, { text: true, seed: size + index }),
        sampleMessage(size, { seed: size + index }),
      ])
      // One 16 MiB message per variant, text and binary taking turns.
      messages.push(sampleMessage(16 * MiB, { text: index % 2 === 0, seed: index }))
      await assertEchoes(t, client, messages)
      client.wss.close({ closeCode: 1000 })
      t.deepEqual(await withTimeout(client.wss.closed, 10_000, 'closed'), { closeCode: 1000, reason: '' })
    },
  )
})

// Random bytes do not compress: deflate adds a few bytes per block, so ws
// sends this 16 MiB message as one frame a little over 16 MiB. The message
// is within maxMessageSize (64 MiB), which counts inflated bytes, and the
// frame limit leaves room for deflate's growth.
test.serial('ws (defaults): a 16 MiB binary message that does not compress echoes intact', async (t) => {
  const server = await compressingEchoServer(t, true)
  const client = await openedClientFor(t, server.url)
  await assertEchoes(t, client, [randomBytes(16 * MiB)])
})
