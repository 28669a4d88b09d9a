// Bursts of writes: after the first write of a turn of the event loop, small
// messages are gathered and handed to the native side together
// (lib/send-batch.js; docs/design.md "JS-thread fast paths"). Whatever the
// gathering, what the server receives is what was written, in order, and
// nothing written before close() goes missing. A `ws` server records it.
import test from 'ava'
import { withTimeout } from './helpers/settle.mjs'
import { clientFor, recordingServer } from './helpers/fixtures.mjs'

async function open(t, server) {
  const wss = clientFor(t, server.url)
  const { writable } = await withTimeout(wss.opened, 5000, 'opened')
  return { wss, writer: writable.getWriter() }
}

/** Message i of a burst: text and binary, sizes around and over the gathering limit. */
function burstMessage(i) {
  const sizes = [0, 1, 16, 341, 342, 1023, 1024, 1025, 4096, 70_000]
  const size = sizes[i % sizes.length]
  if (i % 2 === 0) return `${i}:${'é'.repeat(size >> 1)}`.slice(0, Math.max(size, String(i).length + 1))
  return new Uint8Array(size).map((_, j) => (i + j) & 0xff)
}

async function assertReceived(t, server, messages, label) {
  for (const [i, expected] of messages.entries()) {
    const { data, isBinary } = await server.nextMessage(`${label} ${i}`)
    if (typeof expected === 'string') {
      t.false(isBinary, `${label} ${i} is text`)
      t.is(data.toString('utf8'), expected, `${label} ${i}`)
    } else {
      t.true(isBinary, `${label} ${i} is binary`)
      t.true(Buffer.from(expected).equals(data), `${label} ${i}`)
    }
  }
}

test('3,000 writes of one turn, text and binary of every size, arrive whole and in order', async (t) => {
  const server = await recordingServer(t)
  const { writer } = await open(t, server)
  const messages = Array.from({ length: 3000 }, (_, i) => burstMessage(i))
  // No await between the writes: one turn, gathered in several batches.
  await withTimeout(Promise.all(messages.map((message) => writer.write(message))), 20_000, 'the writes')
  await assertReceived(t, server, messages, 'message')
})

test('a loop of awaited small writes arrives whole and in order', async (t) => {
  const server = await recordingServer(t)
  const { writer } = await open(t, server)
  const messages = Array.from({ length: 5000 }, (_, i) => (i % 3 === 0 ? new Uint8Array([i & 0xff, i >> 8]) : `m${i}`))
  for (const message of messages) await writer.write(message)
  await assertReceived(t, server, messages, 'message')
})

test('two connections writing in the same turn each get exactly their own messages, in order', async (t) => {
  const serverA = await recordingServer(t)
  const serverB = await recordingServer(t)
  const a = await open(t, serverA)
  const b = await open(t, serverB)
  const forA = Array.from({ length: 400 }, (_, i) => `a${i}`)
  const forB = Array.from({ length: 400 }, (_, i) => new Uint8Array([i & 0xff, 0xb]))
  const writes = []
  for (let i = 0; i < 400; i++) {
    writes.push(a.writer.write(forA[i]), b.writer.write(forB[i]))
    // Every few, one of them writes twice in a row.
    if (i % 7 === 0) writes.push(a.writer.write(`a${i} again`))
  }
  await withTimeout(Promise.all(writes), 10_000, 'the writes')
  const expectedA = forA.flatMap((message, i) => (i % 7 === 0 ? [message, `a${i} again`] : [message]))
  await assertReceived(t, serverA, expectedA, 'A')
  await assertReceived(t, serverB, forB, 'B')
})

test('writes that resolved just before close() all arrive, then the Close', async (t) => {
  const server = await recordingServer(t)
  const { wss, writer } = await open(t, server)
  const messages = Array.from({ length: 500 }, (_, i) => `last words ${i}`)
  // Resolved, in the same turn as the close(): gathered, not yet handed over.
  await Promise.all(messages.map((message) => writer.write(message)))
  wss.close({ closeCode: 4000, reason: 'done' })
  await assertReceived(t, server, messages, 'message')
  t.deepEqual(await server.nextClose(), { code: 4000, reason: 'done' })
  t.deepEqual(await withTimeout(wss.closed, 5000, 'closed'), { closeCode: 4000, reason: 'done' })
})

test('writer.close() after a burst sends the whole burst first', async (t) => {
  const server = await recordingServer(t)
  const { writer } = await open(t, server)
  const messages = Array.from({ length: 500 }, (_, i) => new Uint8Array([i & 0xff, 1, 2]))
  for (const message of messages) writer.write(message)
  await withTimeout(writer.close(), 5000, 'writer.close()')
  await assertReceived(t, server, messages, 'message')
  t.is((await server.nextClose()).code, 1005)
})
