// Messages that arrive while the application waits in read(): on Unix the
// JS thread reads such a message itself (docs/design.md "JS-thread fast
// paths"), one socket read, and leaves whatever else that read brought to
// the connection's task. These tests hold that hand-over to what the
// readable promises: every message whole and in order, control frames
// answered, the end of the connection seen, whichever thread reads.
import test from 'ava'
import { setTimeout as delay } from 'node:timers/promises'
import { withTimeout } from './helpers/settle.mjs'
import { openedClientFor, openedRawClientFor, wsServerFor } from './helpers/fixtures.mjs'
import { OPCODE, closeFrame, encodeFrame, textFrame } from './helpers/raw-server.mjs'

const read = (reader, label = 'read') => withTimeout(reader.read(), 5000, label)

test('2,000 echo round trips: each reply, read while the reader waits, arrives intact and in order', async (t) => {
  const peer = await wsServerFor(t)
  const { readable, writable } = await openedClientFor(t, peer.url)
  const reader = readable.getReader()
  const writer = writable.getWriter()
  for (let i = 0; i < 2000; i++) {
    const message = i % 2 === 0 ? `echo ${i}` : new Uint8Array([i & 0xff, i >> 8, 7])
    await writer.write(message)
    const { value } = await read(reader, `reply ${i}`)
    t.deepEqual(value, message, `reply ${i}`)
  }
})

test('a reply that arrives in three pieces, apart in time, is delivered whole', async (t) => {
  const { socket, readable } = await openedRawClientFor(t)
  const reader = readable.getReader()
  const pending = read(reader, 'the split message')
  const text = `${'x'.repeat(300)}end`
  const frame = textFrame(text)
  // The reader waits before each piece: each one wakes the JS thread's watch.
  await delay(30)
  socket.write(frame.subarray(0, 1))
  await delay(30)
  socket.write(frame.subarray(1, 100))
  await delay(30)
  socket.write(frame.subarray(100))
  t.is((await pending).value, text)
})

test('a burst read in one socket read is delivered in full, not just its first message', async (t) => {
  const { socket, readable } = await openedRawClientFor(t)
  const reader = readable.getReader()
  const first = read(reader, 'first of the burst')
  await delay(30)
  const burst = Array.from({ length: 500 }, (_, i) => textFrame(`m${i}`))
  socket.write(Buffer.concat(burst))
  t.is((await first).value, 'm0')
  for (let i = 1; i < 500; i++) t.is((await read(reader, `m${i}`)).value, `m${i}`)
})

test('a Ping that arrives while the reader waits is answered, and the message after it delivered', async (t) => {
  const { socket, frames, readable } = await openedRawClientFor(t)
  const reader = readable.getReader()
  const pending = read(reader, 'the message after the ping')
  await delay(30)
  socket.write(encodeFrame({ opcode: OPCODE.PING, payload: 'are you there' }))
  const pong = await frames.waitFor((frame) => frame.opcode === OPCODE.PONG, 5000, 'the Pong')
  t.is(pong.payload.toString(), 'are you there')
  socket.write(textFrame('after the ping'))
  t.is((await pending).value, 'after the ping')
})

test('a server Close that arrives while the reader waits is answered and closes cleanly', async (t) => {
  const { socket, frames, wss, readable } = await openedRawClientFor(t)
  const reader = readable.getReader()
  const pending = reader.read()
  await delay(30)
  socket.write(closeFrame(4001, 'done'))
  const echo = await frames.closeFrame(5000)
  t.is(echo.code, 4001)
  socket.end()
  t.deepEqual(await withTimeout(wss.closed, 5000, 'closed'), { closeCode: 4001, reason: 'done' })
  t.true((await pending).done, 'the waiting read ends')
})

test('the server ending TCP while the reader waits ends the connection and closes the socket', async (t) => {
  const { socket, wss, readable } = await openedRawClientFor(t)
  const reader = readable.getReader()
  const pending = reader.read()
  pending.catch(() => {})
  await delay(30)
  const clientClosedTcp = new Promise((resolve) => socket.once('close', resolve))
  socket.end()
  const error = await withTimeout(wss.closed, 5000, 'closed').then(
    () => t.fail('closed should reject'),
    (rejection) => rejection,
  )
  t.is(error.closeCode, 1006)
  const readError = await pending.then(
    () => t.fail('the waiting read should reject'),
    (rejection) => rejection,
  )
  t.is(readError, error, 'the waiting read rejects with the same error')
  // The socket the watch kept open for libuv is closed once it stopped.
  await withTimeout(clientClosedTcp, 5000, 'the client closing its socket')
  t.pass()
})

test('a connection that ends by itself while the reader waits (idleTimeout) closes its socket', async (t) => {
  // Nothing arrives, so the watch is still on when the task ends the
  // connection: the socket must close all the same.
  const { socket, wss, readable } = await openedRawClientFor(t, { options: { idleTimeout: 100 } })
  const clientClosedTcp = new Promise((resolve) => socket.once('close', resolve))
  const pending = readable.getReader().read()
  pending.catch(() => {})
  const error = await withTimeout(wss.closed, 5000, 'closed').then(
    () => t.fail('closed should reject'),
    (rejection) => rejection,
  )
  t.is(error.cause?.code, 'ERR_WEBSOCKETSTREAM_IDLE_TIMEOUT')
  await withTimeout(clientClosedTcp, 5000, 'the client closing its socket')
  t.pass()
})
