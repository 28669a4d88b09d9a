// Writing: how chunks written to the writable become WebSocket messages (the
// draft (whatwg/websockets#48): the stream algorithm "write", which converts a
// BufferSource to a binary message and anything else to a USVString sent as
// text). A `ws` server records what arrives.
import test from 'ava'
import { ReadableStream } from 'node:stream/web'
import { inspect } from 'node:util'
import { rejectionOf, withTimeout } from './helpers/settle.mjs'
import { clientFor, recordingServer } from './helpers/fixtures.mjs'

async function open(t) {
  const server = await recordingServer(t)
  const wss = clientFor(t, server.url)
  const { readable, writable } = await withTimeout(wss.opened, 5000, 'opened')
  return { server, wss, readable, writable, writer: writable.getWriter() }
}

function write(writer, chunk) {
  return withTimeout(writer.write(chunk), 5000, 'write')
}

/** The exact bytes a BufferSource covers. */
function bytesOf(source) {
  if (source instanceof ArrayBuffer) return Buffer.from(source.slice(0))
  return Buffer.from(source.buffer.slice(source.byteOffset, source.byteOffset + source.byteLength))
}

// --- text --------------------------------------------------------------------

test('a string is sent as a text message', async (t) => {
  const { server, writer } = await open(t)
  await write(writer, 'hello ☃ 🔌')
  const { data, isBinary } = await server.nextMessage()
  t.false(isBinary)
  t.is(data.toString('utf8'), 'hello ☃ 🔌')
})

test('an empty string is sent as an empty text message', async (t) => {
  const { server, writer } = await open(t)
  await write(writer, '')
  const { data, isBinary } = await server.nextMessage()
  t.false(isBinary)
  t.is(data.length, 0)
})

test('a lone surrogate is sent as U+FFFD', async (t) => {
  const { server, writer } = await open(t)
  await write(writer, '\uD800')
  await write(writer, 'a\uDC00b\uD83D')
  const first = await server.nextMessage()
  t.false(first.isBinary)
  t.deepEqual([...first.data], [0xef, 0xbf, 0xbd])
  t.is((await server.nextMessage()).data.toString('utf8'), 'a\uFFFDb\uFFFD')
})

const stringified = test.macro({
  async exec(t, chunk, expected) {
    const { server, writer } = await open(t)
    t.is(await write(writer, chunk), undefined)
    const { data, isBinary } = await server.nextMessage()
    t.false(isBinary, 'a text message')
    t.is(data.toString('utf8'), expected)
  },
  title: (_, chunk, expected) => `${inspect(chunk)} is sent as the text ${JSON.stringify(expected)}`,
})

test(stringified, 123, '123')
test(stringified, 1.5, '1.5')
test(stringified, null, 'null')
test(stringified, undefined, 'undefined')
test(stringified, true, 'true')
test(stringified, 10n, '10')
test(stringified, {}, '[object Object]')
test(stringified, [1, 'a'], '1,a')
test(stringified, { toString: () => 'custom ☃' }, 'custom ☃')
test(stringified, new SharedArrayBuffer(4), '[object SharedArrayBuffer]')

const rejectsWithTypeError = test.macro({
  async exec(t, makeChunk) {
    const { writer } = await open(t)
    const error = await rejectionOf(writer.write(makeChunk()), 5000)
    t.true(error instanceof TypeError, inspect(error))
  },
  title: (description) => `writing ${description} rejects with a TypeError`,
})

test('a Symbol', rejectsWithTypeError, () => Symbol('s'))
test('an object whose toString returns an object', rejectsWithTypeError, () => ({
  toString: () => ({}),
  valueOf: () => ({}),
}))
test('a resizable ArrayBuffer', rejectsWithTypeError, () => new ArrayBuffer(8, { maxByteLength: 16 }))
test(
  'a view on a resizable ArrayBuffer',
  rejectsWithTypeError,
  () => new Uint8Array(new ArrayBuffer(8, { maxByteLength: 16 })),
)
test('a Uint8Array on a SharedArrayBuffer', rejectsWithTypeError, () => new Uint8Array(new SharedArrayBuffer(8)))
test('a DataView on a SharedArrayBuffer', rejectsWithTypeError, () => new DataView(new SharedArrayBuffer(8)))

test('a toString that throws rejects the write with that very exception', async (t) => {
  const { writer } = await open(t)
  const thrown = new Error('no string for you')
  const error = await rejectionOf(
    writer.write({
      toString() {
        throw thrown
      },
    }),
    5000,
  )
  t.is(error, thrown)
})

test('a rejected write errors the writable but leaves the connection and the readable working', async (t) => {
  const { server, wss, readable, writer } = await open(t)
  const error = await rejectionOf(writer.write(Symbol('s')), 5000)
  t.true(error instanceof TypeError)
  t.is(await rejectionOf(writer.closed, 5000), error, 'the writable is errored with that TypeError')
  server.send('from the server')
  const reader = readable.getReader()
  t.deepEqual(await withTimeout(reader.read(), 5000, 'read'), { value: 'from the server', done: false })
  wss.close({ closeCode: 4000 })
  t.deepEqual(await withTimeout(wss.closed, 5000, 'closed'), { closeCode: 4000, reason: '' })
})

// --- binary ------------------------------------------------------------------

const big = new Uint8Array(64).map((_, i) => i * 3 + 1).buffer

const sentAsBinary = test.macro({
  async exec(t, makeChunk) {
    const { server, writer } = await open(t)
    const chunk = makeChunk()
    const expected = bytesOf(chunk)
    t.is(await write(writer, chunk), undefined)
    const { data, isBinary } = await server.nextMessage()
    t.true(isBinary, 'a binary message')
    t.is(data.length, expected.length)
    if (expected.length <= 1024) t.deepEqual([...data], [...expected])
    else t.true(data.equals(expected), 'the same bytes')
  },
  title: (description) => `${description} is sent as a binary message with exactly its bytes`,
})

test('an ArrayBuffer', sentAsBinary, () => new Uint8Array([0, 1, 2, 255, 128]).buffer)
test('a Uint8Array', sentAsBinary, () => new Uint8Array([9, 8, 7, 0, 6]))
test('an Int16Array', sentAsBinary, () => new Int16Array([-1, 256, 12345, -32768]))
test('a Float64Array', sentAsBinary, () => new Float64Array([Math.PI, -0, Infinity]))
test('a DataView', sentAsBinary, () => {
  const view = new DataView(new ArrayBuffer(6))
  view.setUint32(0, 0xdeadbeef)
  view.setInt16(4, -2)
  return view
})
test('a Buffer', sentAsBinary, () => Buffer.from('binary ☃', 'utf8'))
test('a Buffer from the shared pool', sentAsBinary, () => Buffer.from([1, 2, 3, 4]))
test(
  'a Uint8Array with a byteOffset and byteLength into a bigger buffer',
  sentAsBinary,
  () => new Uint8Array(big, 5, 7),
)
test('an Int16Array with a byteOffset into a bigger buffer', sentAsBinary, () => new Int16Array(big, 10, 3))
test('a DataView with a byteOffset and byteLength into a bigger buffer', sentAsBinary, () => new DataView(big, 33, 9))
test('an empty ArrayBuffer', sentAsBinary, () => new ArrayBuffer(0))
test('an empty view at the end of a buffer', sentAsBinary, () => new Uint8Array(big, 64, 0))
test('a 1 MiB Uint8Array', sentAsBinary, () => new Uint8Array(1 << 20).map((_, i) => (i * 7) & 0xff))

// The copy is taken when the write algorithm runs, which for a write to an
// idle writable is inside write() itself (WPT's check). A chunk queued behind
// another write is copied later, when its turn comes, so each write here
// waits for the previous one.
test('the bytes of a view are copied when written: changing them right after write() does not change the message', async (t) => {
  const { server, writer } = await open(t)
  const view = new Uint8Array([1, 2, 3, 4])
  const written = writer.write(view)
  view.fill(0xee)
  await withTimeout(written, 5000, 'write')
  t.deepEqual([...(await server.nextMessage()).data], [1, 2, 3, 4])
})

test('the bytes of an ArrayBuffer are copied when written: changing them right after write() does not change the message', async (t) => {
  const { server, writer } = await open(t)
  const buffer = new Uint8Array([5, 6, 7]).buffer
  const written = writer.write(buffer)
  new Uint8Array(buffer).fill(0xdd)
  await withTimeout(written, 5000, 'write')
  t.deepEqual([...(await server.nextMessage()).data], [5, 6, 7])
})

test('the bytes of a 1 MiB write are copied when written', async (t) => {
  const { server, writer } = await open(t)
  const view = new Uint8Array(1 << 20).map((_, i) => i & 0xff)
  const expected = Buffer.from(view)
  const written = writer.write(view)
  view.fill(0)
  await withTimeout(written, 5000, 'write')
  const { data, isBinary } = await server.nextMessage()
  t.true(isBinary)
  t.true(data.equals(expected), 'the bytes as they were at write()')
})

test('transferring the buffer after write() does not change the message', async (t) => {
  const { server, writer } = await open(t)
  const view = new Uint8Array([4, 5, 6])
  const written = writer.write(view)
  structuredClone(view.buffer, { transfer: [view.buffer] })
  t.is(view.byteLength, 0, 'the source is detached')
  await withTimeout(written, 5000, 'write')
  t.deepEqual([...(await server.nextMessage()).data], [4, 5, 6])
})

// --- order and completion ----------------------------------------------------

test('1000 writes arrive in order with their content and kind', async (t) => {
  const { server, writer } = await open(t)
  const count = 1000
  const writes = []
  for (let i = 0; i < count; i++) {
    writes.push(writer.write(i % 3 === 0 ? new Uint8Array([i & 0xff, i >> 8]) : `message ${i}`))
  }
  await withTimeout(Promise.all(writes), 10_000, 'all writes')
  for (let i = 0; i < count; i++) {
    const { data, isBinary } = await server.nextMessage(`message ${i}`)
    if (i % 3 === 0) {
      t.true(isBinary)
      t.deepEqual([...data], [i & 0xff, i >> 8])
    } else {
      t.false(isBinary)
      t.is(data.toString('utf8'), `message ${i}`)
    }
  }
})

test('the write promise resolves with undefined', async (t) => {
  const { server, writer } = await open(t)
  t.is(await write(writer, 'x'), undefined)
  t.is(await write(writer, new Uint8Array([1])), undefined)
  t.is((await server.nextMessage()).data.toString(), 'x')
})

test('writing through the writable without a writer works too', async (t) => {
  const server = await recordingServer(t)
  const wss = clientFor(t, server.url)
  const { writable } = await withTimeout(wss.opened, 5000, 'opened')
  const source = ReadableStream.from(['one', new Uint8Array([2]), 'three'])
  await withTimeout(source.pipeTo(writable, { preventClose: true }), 5000, 'pipeTo')
  t.is((await server.nextMessage()).data.toString(), 'one')
  t.deepEqual([...(await server.nextMessage()).data], [2])
  t.is((await server.nextMessage()).data.toString(), 'three')
})
