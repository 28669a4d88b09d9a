// Interop with an independent server: Python's `websockets` package
// (fixtures/python-server.py, started with python3). The core behaviours of
// SPEC.md and DESIGN.md against a peer that is not `ws`: echo of both kinds,
// fragmented messages reassembled, close codes and reasons both ways,
// subprotocol selection, pings (explicit and keepalive) answered, and
// websockets' own size limit ending the connection with 1009.
import test from 'ava'
import { WebSocketStream, WebSocketError } from '../../index.mjs'
import { withTimeout } from '../helpers/timeout.mjs'
import { fixture, spawnChild } from './support/child.mjs'
import { MiB, openStream, standing } from './support/checks.mjs'

// .ci/run installs websockets into a virtual environment and names its
// interpreter here; otherwise python3 must have websockets installed.
const python = process.env.WEBSOCKETSTREAM_TEST_PYTHON || 'python3'

async function pythonServer(t) {
  const server = spawnChild(t, python, [fixture('python-server.py')], { killAfterMs: 120_000 })
  const [, port] = await server.waitFor(/^PORT (\d+)$/m, 15_000)
  return { url: `ws://127.0.0.1:${port}/` }
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
  t.true(value.every((byte, i) => byte === ((i * 7) & 0xff)), 'the 64 fragments joined in order')
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

test("subprotocols: websockets selects by its own preference among ours; with none offered, none is selected", async (t) => {
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
  t.is(both.extensions, '', 'no extension negotiated (websockets offers deflate only when asked)')
})

test('20 pings from websockets are answered with matching pongs while the application does not read', async (t) => {
  const { url } = await pythonServer(t)
  const { wss, readable } = await openStream(t, `${url}ping`)
  // Nothing is read until websockets has had all its pongs (it waits for each).
  await new Promise((resolve) => setTimeout(resolve, 1500))
  const reader = readable.getReader()
  for (let i = 0; i < 3; i++) t.is((await read(reader)).value, `before pings ${i}`)
  t.is((await read(reader)).value, 'pongs 20', 'every ping got its pong')
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
  // (DESIGN.md: a write pending when the server's Close arrives).
  if (closed.status === 'fulfilled') {
    t.is(closed.value.closeCode, 1009)
  } else {
    t.true(closed.reason instanceof WebSocketError)
    t.is(closed.reason.closeCode, 1009, closed.reason.message)
    t.is((await standing(write, 5000)).status, 'rejected', 'the pending write rejects')
  }
  t.log(`closed ${closed.status}: ${JSON.stringify(closed.value ?? { closeCode: closed.reason?.closeCode, reason: closed.reason?.reason })}`)
})
