// Closing: the server's Close, our Close, the echo, abrupt TCP loss and the
// close timeout (the draft (whatwg/websockets#48): close(closeInfo), the
// stream algorithm "close", "when the WebSocket connection is closed";
// RFC 6455 §5.5.1, §7.1.5; docs/design.md "Closing": the server's Close is
// answered at once with its code, a Close of ours unanswered for 5 s is an
// unclean 1006, a write pending when the server's Close arrives rejects;
// "Decisions where the draft is silent": writer.close() settles when the
// connection has closed).
import test from 'ava'
import { setTimeout as delay } from 'node:timers/promises'
import { WebSocketError, WebSocketStream } from '../index.mjs'
import { closeFrame, readFrames, textFrame } from './helpers/raw-server.mjs'
import { isPending, rejectionOf, withTimeout } from './helpers/settle.mjs'
import { assertTypeError, assertWebSocketError, thrownBy } from './helpers/errors.mjs'
import {
  clientWithStalledWrite,
  openedClientFor as open,
  openedRawClientFor,
  recordingServer,
  wsServerFor as wsServer,
} from './helpers/fixtures.mjs'

const read = (reader, label = 'read') => withTimeout(reader.read(), 5000, label)
const settled = (promise, label, ms = 10_000) => withTimeout(promise, ms, label)

function assertInvalidState(t, error) {
  t.true(error instanceof DOMException, 'a DOMException')
  t.false(error instanceof WebSocketError, 'not a WebSocketError')
  t.is(error.name, 'InvalidStateError')
}

// --- the server closes ----------------------------------------------------

test('server Close with code and reason resolves closed with them', async (t) => {
  const peer = await wsServer(t, (socket) => socket.close(4000, 'bye'))
  const { wss } = await open(t, peer.url)
  t.deepEqual(await settled(wss.closed, 'closed'), { closeCode: 4000, reason: 'bye' })
})

test('server Close with a non-ASCII UTF-8 reason reports it decoded', async (t) => {
  const peer = await wsServer(t, (socket) => socket.close(4321, 'héllo 🔌'))
  const { wss } = await open(t, peer.url)
  t.deepEqual(await settled(wss.closed, 'closed'), { closeCode: 4321, reason: 'héllo 🔌' })
})

test('server Close with empty body reports 1005', async (t) => {
  const peer = await wsServer(t, (socket) => socket.close())
  const { wss } = await open(t, peer.url)
  t.deepEqual(await settled(wss.closed, 'closed'), { closeCode: 1005, reason: '' })
})

test('server Close 1000 without a reason reports 1000 and an empty reason', async (t) => {
  const peer = await wsServer(t, (socket) => socket.close(1000))
  const { wss } = await open(t, peer.url)
  t.deepEqual(await settled(wss.closed, 'closed'), { closeCode: 1000, reason: '' })
})

test('messages sent before the server Close are read in order, then done', async (t) => {
  const peer = await wsServer(t, (socket) => {
    socket.send('one')
    socket.send(Buffer.from([1, 2, 3]), { binary: true })
    socket.send('three')
    socket.close(4000, 'bye')
  })
  const { wss, readable } = await open(t, peer.url)
  const reader = readable.getReader()
  t.is((await read(reader)).value, 'one')
  const second = await read(reader)
  t.true(second.value instanceof Uint8Array)
  t.deepEqual([...second.value], [1, 2, 3])
  t.is((await read(reader)).value, 'three')
  t.deepEqual(await read(reader), { done: true, value: undefined })
  t.deepEqual(await settled(wss.closed, 'closed'), { closeCode: 4000, reason: 'bye' })
})

test('messages not yet read when the server Close arrived stay readable after closed resolves', async (t) => {
  const peer = await wsServer(t, (socket) => {
    socket.send('first')
    socket.send('second')
    socket.send(Buffer.from('third'), { binary: true })
    socket.close(4000, 'bye')
  })
  const { wss, readable } = await open(t, peer.url)
  // Nothing is read until the connection has closed.
  t.deepEqual(await settled(wss.closed, 'closed'), { closeCode: 4000, reason: 'bye' })
  const reader = readable.getReader()
  t.is((await read(reader)).value, 'first')
  t.is((await read(reader)).value, 'second')
  const third = await read(reader)
  t.true(third.value instanceof Uint8Array)
  t.is(Buffer.from(third.value).toString(), 'third')
  t.deepEqual(await read(reader), { done: true, value: undefined })
})

test('after a clean server Close, writes reject with an InvalidStateError DOMException', async (t) => {
  const peer = await wsServer(t, (socket) => socket.close(4000, 'bye'))
  const { wss, writable } = await open(t, peer.url)
  await settled(wss.closed, 'closed')
  const writer = writable.getWriter()
  const error = await rejectionOf(writer.write('too late'), 5000, 'write after close')
  assertInvalidState(t, error)
  const closedError = await rejectionOf(writer.closed, 5000, 'writer.closed')
  t.is(closedError, error, 'the writable is errored with that same object')
})

test("the client echoes the server's close code and reason at once", async (t) => {
  const { socket, frames, wss } = await openedRawClientFor(t)
  // The application never reads: the echo must not wait for it.
  socket.write(closeFrame(4000, 'bye'))
  const echo = await frames.closeFrame(5000)
  t.true(echo.frame.masked, 'client frames are masked')
  t.true(echo.frame.fin)
  t.is(echo.code, 4000, 'the echo carries the server code')
  socket.end()
  t.deepEqual(await settled(wss.closed, 'closed'), { closeCode: 4000, reason: 'bye' })
})

test('the client answers a server Close with empty body with an empty Close', async (t) => {
  const { socket, frames, wss } = await openedRawClientFor(t)
  socket.write(closeFrame())
  const echo = await frames.closeFrame(5000)
  t.is(echo.frame.payload.length, 0, 'an empty body')
  socket.end()
  t.deepEqual(await settled(wss.closed, 'closed'), { closeCode: 1005, reason: '' })
})

test('the client answers a server Close that follows unread messages', async (t) => {
  const { socket, frames, wss, readable } = await openedRawClientFor(t)
  socket.write(Buffer.concat([textFrame('a'), textFrame('b'), textFrame('c'), closeFrame(4003, 'done')]))
  const echo = await frames.closeFrame(5000)
  t.is(echo.code, 4003)
  socket.end()
  t.deepEqual(await settled(wss.closed, 'closed'), { closeCode: 4003, reason: 'done' })
  const reader = readable.getReader()
  const values = []
  for (;;) {
    const { value, done } = await read(reader)
    if (done) break
    values.push(value)
  }
  t.deepEqual(values, ['a', 'b', 'c'])
})

// --- the client closes ----------------------------------------------------

test('close({closeCode: 4001, reason}) against an echo server resolves closed with them', async (t) => {
  const peer = await recordingServer(t)
  const { wss } = await open(t, peer.url)
  wss.close({ closeCode: 4001, reason: 'x' })
  t.deepEqual(await settled(wss.closed, 'closed'), { closeCode: 4001, reason: 'x' })
  t.deepEqual(await peer.nextClose(), { code: 4001, reason: 'x' })
})

test('close() with no arguments sends an empty Close and reports 1005', async (t) => {
  const { socket, frames, wss } = await openedRawClientFor(t)
  wss.close()
  const sent = await frames.closeFrame(5000)
  t.is(sent.frame.payload.length, 0, 'an empty Close body')
  socket.end(closeFrame())
  t.deepEqual(await settled(wss.closed, 'closed'), { closeCode: 1005, reason: '' })
})

test('close() with no arguments against the ws echo server reports 1005', async (t) => {
  const peer = await wsServer(t)
  const { wss } = await open(t, peer.url)
  wss.close()
  t.deepEqual(await settled(wss.closed, 'closed'), { closeCode: 1005, reason: '' })
})

test('close({reason}) without a code sends 1000 with the reason', async (t) => {
  const { socket, frames, wss } = await openedRawClientFor(t)
  wss.close({ reason: 'just a reason' })
  const sent = await frames.closeFrame(5000)
  t.is(sent.code, 1000)
  t.is(sent.reason, 'just a reason')
  socket.end(closeFrame(1000, 'just a reason'))
  t.deepEqual(await settled(wss.closed, 'closed'), { closeCode: 1000, reason: 'just a reason' })
})

test('writer.close() resolves only after closed has settled, and the reader is then done', async (t) => {
  // The server answers our Close only once it has seen writer.close() still waiting.
  const { socket, frames, wss, readable, writable } = await openedRawClientFor(t)
  let closedSettled = false
  wss.closed.then(
    () => {
      closedSettled = true
    },
    () => {
      closedSettled = true
    },
  )
  const writer = writable.getWriter()
  let closedWhenWriterResolved
  const writerClosed = writer.close().then(() => {
    closedWhenWriterResolved = closedSettled
  })
  const sent = await frames.closeFrame(5000)
  t.is(sent.frame.payload.length, 0, 'writer.close() sends an empty Close')
  // Our Close is out and nothing has answered it: writer.close() must still wait.
  t.true(await isPending(writerClosed), 'writer.close() waits for the closing handshake')
  socket.end(closeFrame())
  await settled(writerClosed, 'writer.close()')
  t.true(closedWhenWriterResolved, 'closed had settled when writer.close() resolved')
  t.deepEqual(await settled(wss.closed, 'closed'), { closeCode: 1005, reason: '' })
  t.deepEqual(await read(readable.getReader()), { done: true, value: undefined })
})

test("a client close() racing a server Close reports the server's code", async (t) => {
  // Whichever Close the client handles first, the code reported is the one
  // the server sent.
  const peer = await wsServer(t, (socket) => socket.close(4222, 'remote'))
  const { wss } = await open(t, peer.url)
  wss.close({ closeCode: 4111, reason: 'local' })
  t.deepEqual(await settled(wss.closed, 'closed'), { closeCode: 4222, reason: 'remote' })
})

test('when both sides send Close, closed reports the code the server sent', async (t) => {
  // The server ignores our code and answers with its own.
  const { socket, frames, wss } = await openedRawClientFor(t)
  wss.close({ closeCode: 4111, reason: 'local' })
  const sent = await frames.closeFrame(5000)
  t.is(sent.code, 4111)
  t.is(sent.reason, 'local')
  socket.end(closeFrame(4222, 'remote'))
  t.deepEqual(await settled(wss.closed, 'closed'), { closeCode: 4222, reason: 'remote' })
})

// --- abrupt ends ------------------------------------------------------------

test('TCP dropped without a Close rejects closed with 1006 and errors both streams with the same object', async (t) => {
  const { socket, wss, readable, writable } = await openedRawClientFor(t)
  const reader = readable.getReader()
  const writer = writable.getWriter()
  const pendingRead = reader.read()
  socket.end()
  const error = await rejectionOf(wss.closed, 10_000, 'closed')
  assertWebSocketError(t, error, { closeCode: 1006 })
  t.is(await rejectionOf(pendingRead, 5000, 'pending read'), error, 'a pending read rejects with it')
  t.is(await rejectionOf(reader.read(), 5000, 'later read'), error, 'a later read rejects with it')
  t.is(await rejectionOf(writer.write('x'), 5000, 'write'), error, 'a write rejects with it')
  t.is(await rejectionOf(writer.closed, 5000, 'writer.closed'), error, 'writer.closed rejects with it')
})

test('TCP reset after some messages rejects closed with 1006 and the read with the same object', async (t) => {
  const { socket, wss, readable } = await openedRawClientFor(t)
  const reader = readable.getReader()
  socket.write(textFrame('before the reset'))
  t.is((await read(reader)).value, 'before the reset')
  socket.resetAndDestroy()
  const error = await rejectionOf(wss.closed, 10_000, 'closed')
  assertWebSocketError(t, error, { closeCode: 1006 })
  t.is(await rejectionOf(reader.read(), 5000, 'read'), error)
})

test('a server that never answers our Close: after about 5 s closed rejects with 1006 naming the timeout', async (t) => {
  const { frames, wss, readable } = await openedRawClientFor(t)
  const start = performance.now()
  wss.close({ closeCode: 4001, reason: 'anyone there?' })
  const sent = await frames.closeFrame(5000)
  t.is(sent.code, 4001, 'our Close was sent')
  const error = await rejectionOf(wss.closed, 20_000, 'closed')
  const elapsed = performance.now() - start
  assertWebSocketError(t, error, { closeCode: 1006 })
  t.regex(error.message, /time(d)?[ -]?out|\b5 ?s\b|\b5 ?seconds?\b|\b5000 ?ms\b/i, 'the message names the timeout')
  t.true(elapsed >= 4900, `closed settled after ${elapsed.toFixed(0)} ms, not before the 5 s timeout`)
  t.is(await rejectionOf(readable.getReader().read(), 5000, 'read'), error)
  await withTimeout(frames.ended, 5000, 'the client drops TCP')
  t.pass()
})

test('closeTimeout shortens the wait for a server that never answers our Close, and its message names the option', async (t) => {
  const { frames, wss } = await openedRawClientFor(t, { options: { closeTimeout: 300 } })
  const start = performance.now()
  wss.close({ closeCode: 4002 })
  t.is((await frames.closeFrame(5000)).code, 4002, 'our Close was sent')
  const error = await rejectionOf(wss.closed, 4000, 'closed, well before the default 5 s')
  const elapsed = performance.now() - start
  assertWebSocketError(t, error, { closeCode: 1006 })
  t.regex(error.message, /did not answer the Close within 300 ms \(closeTimeout\)/)
  t.true(elapsed >= 290, `closed settled after ${elapsed.toFixed(0)} ms, not before the 300 ms timeout`)
  await withTimeout(frames.ended, 5000, 'the client drops TCP')
})

test('closeTimeout must be a whole number from 0 to 2147483647: anything else is a TypeError naming it', (t) => {
  for (const closeTimeout of [-1, 1.5, '100', 2 ** 31, Number.NaN, null]) {
    const error = thrownBy(t, () => new WebSocketStream('ws://127.0.0.1:1/', { closeTimeout }), String(closeTimeout))
    assertTypeError(t, error, `closeTimeout ${String(closeTimeout)}`)
    t.regex(error?.message ?? '', /options\.closeTimeout/, `the message names the option for ${String(closeTimeout)}`)
  }
})

test('closeTimeout 0 sends our Close, then drops TCP without waiting for the answer', async (t) => {
  const { frames, wss } = await openedRawClientFor(t, { options: { closeTimeout: 0 } })
  wss.close({ closeCode: 4003, reason: 'no wait' })
  const sent = await frames.closeFrame(5000)
  t.deepEqual([sent.code, sent.reason], [4003, 'no wait'], 'our Close reached the server')
  await withTimeout(frames.ended, 3000, 'the client drops TCP at once')
  const error = await rejectionOf(wss.closed, 3000, 'closed')
  assertWebSocketError(t, error, { closeCode: 1006 })
  t.regex(error.message, /within 0 ms \(closeTimeout\)/)
})

test('closeTimeout also bounds the wait for TCP to end after the server answered: the close stays clean', async (t) => {
  const { frames, socket, wss } = await openedRawClientFor(t, { options: { closeTimeout: 200 } })
  wss.close({ closeCode: 4004 })
  await frames.closeFrame(5000)
  // The server answers but keeps TCP open: the client drops it after 200 ms.
  socket.write(closeFrame(4004, 'answered'))
  t.deepEqual(await withTimeout(wss.closed, 4000, 'closed'), { closeCode: 4004, reason: 'answered' })
  await withTimeout(frames.ended, 3000, 'the client drops TCP')
})

test("a write pending when the server's Close arrives rejects with InvalidStateError; closed rejects with the server's code", async (t) => {
  const { socket, wss, writer, pendingWrite } = await clientWithStalledWrite(t)
  t.true(await isPending(pendingWrite), 'the 8 MiB write is pending while the server does not read')

  socket.write(closeFrame(4000, 'bye'))
  // The client takes in the Close without any sign the server could see
  // (its answer waits behind the 8 MiB): give it 200 ms before reading, or
  // the write could complete first. Then drain what it sends and close TCP
  // once its Close (the echo) has come through.
  await delay(200)
  const frames = readFrames(socket)
  frames
    .closeFrame(15_000)
    .then(() => socket.end())
    .catch(() => socket.destroy())

  const writeError = await rejectionOf(pendingWrite, 15_000, 'the pending write')
  assertInvalidState(t, writeError)
  const later = await rejectionOf(writer.write('later'), 5000, 'a later write')
  t.is(later, writeError, 'a later write rejects with the very same object')
  const closedError = await rejectionOf(wss.closed, 15_000, 'closed')
  assertWebSocketError(t, closedError, { closeCode: 4000, reason: 'bye' })
})
