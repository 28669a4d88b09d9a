// Protocol violations by the server, after a correct handshake (RFC 6455 §5,
// §7.4, §8.1; the draft (whatwg/websockets#48), "when the WebSocket
// connection is closed" uncleanly; docs/design.md "Closing": a violation
// sends Close 1002, or 1007 for text or a close reason that is not UTF-8,
// drops TCP and rejects closed with 1006 — a forbidden received close code
// included). The raw server keeps its socket open and reads, so the client's
// Close frame is always observable.
import test from 'ava'
import { OPCODE, closeFrame, encodeCloseBody, encodeFrame, textFrame } from './helpers/raw-server.mjs'
import { rejectionOf, withTimeout } from './helpers/settle.mjs'
import { assertWebSocketError } from './helpers/errors.mjs'
import { openedRawClientFor } from './helpers/fixtures.mjs'

/**
 * Connects to a raw server, waits for `opened`, has the server write `bytes`,
 * then checks the whole failure: the client sends a masked Close with
 * `expectedCode` and drops TCP; `closed` rejects with a WebSocketError 1006;
 * the readable (and the writable) are errored with that very object.
 */
async function assertViolation(t, bytes, expectedCode, { messagePattern } = {}) {
  const { socket, frames, wss, readable, writable } = await openedRawClientFor(t)
  const reader = readable.getReader()
  const pendingRead = reader.read()
  socket.write(Buffer.isBuffer(bytes) ? bytes : Buffer.concat(bytes))

  const sent = await frames.closeFrame(10_000)
  t.true(sent.frame.masked, "the client's Close is masked")
  t.is(sent.code, expectedCode, `the client sends Close ${expectedCode}`)
  await withTimeout(frames.ended, 10_000, 'the client drops TCP after its Close')
  t.is(frames.frames.filter((frame) => frame.opcode === OPCODE.CLOSE).length, 1, 'exactly one Close frame')

  const error = await rejectionOf(wss.closed, 10_000, 'closed')
  // A failed connection reports 1006, not the code it sent.
  assertWebSocketError(t, error, { closeCode: 1006 }, 'closed')
  if (messagePattern) t.regex(error.message, messagePattern)

  t.is(await rejectionOf(pendingRead, 5000, 'the pending read'), error, 'the pending read rejects with it')
  t.is(await rejectionOf(reader.read(), 5000, 'a later read'), error, 'a later read rejects with it')
  const writer = writable.getWriter()
  t.is(await rejectionOf(writer.write('x'), 5000, 'a write'), error, 'a write rejects with it')
}

const INVALID_UTF8 = Buffer.from([0x68, 0x69, 0xff, 0xfe]) // 'hi' then two bytes never valid in UTF-8
const UTF8 = /utf-?8/i

test('invalid UTF-8 in a text message: Close 1007, then 1006', async (t) => {
  await assertViolation(t, encodeFrame({ opcode: OPCODE.TEXT, payload: INVALID_UTF8 }), 1007, {
    messagePattern: UTF8,
  })
})

test('invalid UTF-8 across the fragments of a text message: Close 1007, then 1006', async (t) => {
  // 0xE2 0x82 0xAC is '€'; cut after its first byte and continued with ASCII.
  await assertViolation(
    t,
    [
      encodeFrame({ opcode: OPCODE.TEXT, payload: Buffer.from([0x61, 0xe2]), fin: false }),
      encodeFrame({ opcode: OPCODE.CONTINUATION, payload: Buffer.from('bc') }),
    ],
    1007,
    { messagePattern: UTF8 },
  )
})

test('invalid UTF-8 in a close reason: Close 1007, then 1006', async (t) => {
  await assertViolation(t, closeFrame(4000, INVALID_UTF8), 1007, { messagePattern: UTF8 })
})

test('a masked server frame: Close 1002, then 1006', async (t) => {
  await assertViolation(t, encodeFrame({ opcode: OPCODE.TEXT, payload: 'hello', masked: true }), 1002)
})

test('RSV1 set without a negotiated extension: Close 1002, then 1006', async (t) => {
  await assertViolation(t, encodeFrame({ opcode: OPCODE.TEXT, payload: 'hello', rsv: 0b100 }), 1002)
})

test('RSV2 set: Close 1002, then 1006', async (t) => {
  await assertViolation(t, encodeFrame({ opcode: OPCODE.BINARY, payload: Buffer.from([1]), rsv: 0b010 }), 1002)
})

test('RSV3 set: Close 1002, then 1006', async (t) => {
  await assertViolation(t, encodeFrame({ opcode: OPCODE.TEXT, payload: 'hello', rsv: 0b001 }), 1002)
})

test('unknown data opcode 0x3: Close 1002, then 1006', async (t) => {
  await assertViolation(t, encodeFrame({ opcode: 0x3, payload: 'what' }), 1002)
})

test('unknown control opcode 0xB: Close 1002, then 1006', async (t) => {
  await assertViolation(t, encodeFrame({ opcode: 0xb, payload: 'what' }), 1002)
})

test('a fragmented control frame (ping with FIN clear): Close 1002, then 1006', async (t) => {
  await assertViolation(t, encodeFrame({ opcode: OPCODE.PING, payload: 'ping', fin: false }), 1002)
})

test('a control frame with a 126-byte payload: Close 1002, then 1006', async (t) => {
  await assertViolation(t, encodeFrame({ opcode: OPCODE.PING, payload: Buffer.alloc(126, 0x61) }), 1002)
})

test('a continuation frame without a message to continue: Close 1002, then 1006', async (t) => {
  await assertViolation(t, encodeFrame({ opcode: OPCODE.CONTINUATION, payload: 'orphan' }), 1002)
})

test('a new data frame while a fragmented message is unfinished: Close 1002, then 1006', async (t) => {
  await assertViolation(
    t,
    [encodeFrame({ opcode: OPCODE.TEXT, payload: 'part one', fin: false }), textFrame('a whole new message')],
    1002,
  )
})

test('a Close with a 1-byte body: Close 1002, then 1006', async (t) => {
  await assertViolation(t, encodeFrame({ opcode: OPCODE.CLOSE, payload: Buffer.from([0x03]) }), 1002)
})

for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535]) {
  test(`a Close with forbidden code ${code}: Close 1002, then 1006 (not a clean 1002)`, async (t) => {
    await assertViolation(t, encodeFrame({ opcode: OPCODE.CLOSE, payload: encodeCloseBody(code, 'nope') }), 1002)
  })
}

test('a violation after a delivered message still errors the readable with the closed error', async (t) => {
  const { socket, frames, wss, readable } = await openedRawClientFor(t)
  const reader = readable.getReader()
  socket.write(textFrame('fine'))
  t.is((await withTimeout(reader.read(), 5000, 'read')).value, 'fine')
  socket.write(encodeFrame({ opcode: 0x3, payload: 'bad' }))
  const sent = await frames.closeFrame(10_000)
  t.is(sent.code, 1002)
  const error = await rejectionOf(wss.closed, 10_000, 'closed')
  t.is(error.closeCode, 1006)
  t.is(await rejectionOf(reader.read(), 5000, 'read'), error)
})
