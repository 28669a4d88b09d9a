// Faults a server or the network can cause (the draft (whatwg/websockets#48):
// an abrupt end is an unclean close, 1006, the streams errored with the
// closed error ("when the WebSocket connection is closed"); a signal aborts a
// handshake (new WebSocketStream(url, options) steps); docs/design.md
// "Closing": a Close of ours unanswered for 5 s ends TCP with 1006). Each test
// checks the outcome of opened, closed and both streams, and bounds every
// wait; the time each promise took to settle after the fault is logged, and
// the longest of the file is printed at the end.
import test from 'ava'
import { setTimeout as delay } from 'node:timers/promises'
import { WebSocketStream, WebSocketError } from '../../index.mjs'
import {
  binaryFrame,
  closeFrame,
  encodeFrame,
  handshakeResponse,
  OPCODE,
  readRequest,
  startRawWebSocketServer,
  textFrame,
} from '../helpers/raw-server.mjs'
import { rejectionOf, withTimeout } from '../helpers/settle.mjs'
import { assertWebSocketError } from '../helpers/errors.mjs'
import {
  clientWithStalledWrite,
  openedClientFor as openStream,
  openedRawClientFor,
  rawServerFor as rawServer,
} from '../helpers/fixtures.mjs'
import { serverChild } from './support/child.mjs'
import { observed, ms, settlement, SettleTimes } from './support/checks.mjs'

const settleTimes = new SettleTimes()

test.after.always('figures', () => {
  const longest = settleTimes.longest()
  if (longest) {
    console.log(
      `[faults] ${settleTimes.entries.length} settle times recorded; longest ${ms(longest.ms)}: ${longest.label}`,
    )
  }
})

/**
 * Writes 64 KiB binary messages until one rejects: `rejected` rejects with
 * that reason, `firstWrite` resolves once a first write has resolved.
 */
function writeUntilRejected(writer) {
  const chunk = new Uint8Array(64 << 10)
  let wrote
  const firstWrite = new Promise((resolve) => (wrote = resolve))
  const rejected = observed(
    (async () => {
      for (;;) {
        await writer.write(chunk)
        wrote()
      }
    })(),
  )
  return { rejected, firstWrite }
}

/** Asserts how an unclean end surfaced everywhere, logging how long each took after `since`. */
async function assertUncleanEverywhere(t, { wss, reader, writer, pendingRead, pendingWrite, since, label }) {
  const closed = await settlement(wss.closed, 15_000, `${label}: closed`, since)
  t.is(closed.status, 'rejected', `${label}: closed rejects`)
  assertWebSocketError(t, closed.reason, { closeCode: 1006 }, `${label}: closed`)
  t.log(`${label}: closed rejected ${ms(closed.ms)} after the fault`)
  settleTimes.add(`${label}: closed`, closed.ms)
  const error = closed.reason
  if (pendingRead) {
    const read = await settlement(pendingRead, 5000, `${label}: the pending read`, since)
    t.is(read.status, 'rejected', `${label}: the pending read rejects`)
    t.is(read.reason, error, `${label}: the pending read rejects with the closed error`)
    settleTimes.add(`${label}: pending read`, read.ms)
  }
  if (pendingWrite) {
    const write = await settlement(pendingWrite, 5000, `${label}: the pending write`, since)
    t.is(write.status, 'rejected', `${label}: the pending write rejects`)
    t.is(write.reason, error, `${label}: the pending write rejects with the closed error`)
    settleTimes.add(`${label}: pending write`, write.ms)
  }
  if (reader) t.is(await rejectionOf(reader.read(), 5000), error, `${label}: a later read rejects with it`)
  if (writer) t.is(await rejectionOf(writer.write('late'), 5000), error, `${label}: a later write rejects with it`)
  // close() after the end is allowed and does nothing.
  t.notThrows(() => wss.close({ closeCode: 1000 }), `${label}: close() after the end`)
  return error
}

// --- the server process dies ------------------------------------------------

test('a server process SIGKILLed mid-stream: closed rejects 1006, and a pending read, a pending write and later calls reject with that same error', async (t) => {
  const server = await serverChild(t, 'ws')
  const wss = new WebSocketStream(`${server.url}flood`)
  t.teardown(() => wss.close())
  const { readable, writable } = await withTimeout(wss.opened, 10_000, 'opened')
  const reader = readable.getReader()
  const writer = writable.getWriter()
  for (let i = 0; i < 20; i++) {
    const { value } = await withTimeout(reader.read(), 5000, 'a flood message')
    t.is(new DataView(value.buffer, value.byteOffset).getUint32(0), i, 'the flood arrives in order')
  }
  const writes = writeUntilRejected(writer)
  await withTimeout(writes.firstWrite, 5000, 'a first write')
  const since = performance.now()
  server.child.kill('SIGKILL')
  const { signal } = await withTimeout(server.exited, 5000, 'the server to die')
  t.is(signal, 'SIGKILL')
  // Read whatever was still queued until the stream errors.
  const drained = observed(
    (async () => {
      for (;;) await reader.read()
    })(),
  )
  const error = await assertUncleanEverywhere(t, {
    wss,
    pendingWrite: writes.rejected,
    since,
    label: 'server killed mid-stream',
  })
  t.is(await rejectionOf(drained, 5000), error, 'reading on ends with the closed error')
  t.is(await rejectionOf(reader.read(), 5000), error)
  t.is(await rejectionOf(writer.write('late'), 5000), error)
})

test('a server process SIGKILLed mid-handshake: opened rejects with a WebSocketError, closed with 1006', async (t) => {
  const server = await serverChild(t, 'stall-handshake')
  const wss = new WebSocketStream(server.url)
  const opened = observed(wss.opened)
  await server.waitFor(/^REQUEST$/m, 10_000)
  const since = performance.now()
  server.child.kill('SIGKILL')
  const openedOutcome = await settlement(opened, 10_000, 'opened', since)
  t.is(openedOutcome.status, 'rejected')
  t.true(openedOutcome.reason instanceof WebSocketError, 'opened rejects with a WebSocketError')
  t.is(openedOutcome.reason.closeCode, null, 'a connection that never opened has no close code')
  const closed = await settlement(wss.closed, 10_000, 'closed', since)
  t.is(closed.status, 'rejected')
  assertWebSocketError(t, closed.reason, { closeCode: 1006 }, 'closed')
  settleTimes.add('server killed mid-handshake: opened', openedOutcome.ms)
  settleTimes.add('server killed mid-handshake: closed', closed.ms)
  t.log(`opened rejected ${ms(openedOutcome.ms)}, closed ${ms(closed.ms)} after SIGKILL`)
})

test('50 connections to a server process SIGKILLed at once (streaming, echoing, idle) all end with 1006', async (t) => {
  const server = await serverChild(t, 'ws')
  const paths = ['flood', 'echo', 'idle']
  const streams = Array.from({ length: 50 }, (_, i) => new WebSocketStream(`${server.url}${paths[i % 3]}`))
  t.teardown(() => streams.forEach((wss) => wss.close()))
  const opened = await withTimeout(Promise.all(streams.map((wss) => wss.opened)), 15_000, '50 opened')
  const readers = opened.map(({ readable }) => readable.getReader())
  const pendingReads = readers.map((reader) => observed(reader.read()))
  const writers = opened.map(({ writable }) => writable.getWriter())
  await Promise.all(writers.map((writer) => withTimeout(writer.write('hello'), 5000, 'write')))
  const since = performance.now()
  server.child.kill('SIGKILL')
  // A flood connection whose reader stopped has stopped reading its socket
  // (backpressure), so it learns of the end only as the application reads
  // on: every reader reads until its stream errors.
  const drains = readers.map((reader, i) =>
    observed(
      (async () => {
        const values = [await pendingReads[i]]
        for (;;) values.push(await reader.read())
      })(),
    ),
  )
  const outcomes = await Promise.all(streams.map((wss, i) => settlement(wss.closed, 15_000, `closed #${i}`, since)))
  const slowest = Math.max(...outcomes.map((outcome) => outcome.ms))
  settleTimes.add('50 connections, server killed: slowest closed', slowest)
  t.log(`slowest of 50 closed: ${ms(slowest)} after SIGKILL`)
  outcomes.forEach((outcome, i) => {
    t.is(outcome.status, 'rejected', `#${i} closed rejects`)
    t.is(outcome.reason?.closeCode, 1006, `#${i} closed has 1006`)
  })
  for (let i = 0; i < streams.length; i++) {
    t.is(await rejectionOf(drains[i], 5000), outcomes[i].reason, `#${i}: reading ends with its closed error`)
  }
})

// --- TCP reset ----------------------------------------------------------------

test('a TCP reset during the handshake rejects opened with a WebSocketError and closed with 1006', async (t) => {
  const server = await rawServer(t, async (socket) => {
    await readRequest(socket).catch(() => {})
    socket.resetAndDestroy()
  })
  const since = performance.now()
  const wss = new WebSocketStream(server.url)
  const opened = await settlement(wss.opened, 10_000, 'opened', since)
  t.is(opened.status, 'rejected')
  t.true(opened.reason instanceof WebSocketError)
  t.is(opened.reason.closeCode, null)
  const closed = await settlement(wss.closed, 10_000, 'closed', since)
  t.is(closed.status, 'rejected')
  assertWebSocketError(t, closed.reason, { closeCode: 1006 }, 'closed')
  settleTimes.add('reset during handshake: closed', closed.ms)
})

test('a TCP reset mid-stream with a pending read and a pending 8 MiB write rejects them all with the closed error', async (t) => {
  const { socket, wss, readable, writer, pendingWrite } = await clientWithStalledWrite(t)
  const reader = readable.getReader()
  socket.write(Buffer.concat([textFrame('one'), binaryFrame(Buffer.alloc(1000, 7))]))
  t.is((await withTimeout(reader.read(), 5000, 'read')).value, 'one')
  t.is((await withTimeout(reader.read(), 5000, 'read')).value.byteLength, 1000)
  const pendingRead = observed(reader.read())
  const since = performance.now()
  socket.resetAndDestroy()
  await assertUncleanEverywhere(t, { wss, reader, writer, pendingRead, pendingWrite, since, label: 'reset mid-stream' })
})

test('a TCP reset during our closing handshake rejects closed with 1006 at once, not after the close timeout', async (t) => {
  const { socket, frames, wss, readable } = await openedRawClientFor(t)
  const reader = readable.getReader()
  const pendingRead = observed(reader.read())
  wss.close({ closeCode: 4000, reason: 'going' })
  const sent = await frames.closeFrame(5000)
  t.is(sent.code, 4000)
  const since = performance.now()
  socket.resetAndDestroy()
  await assertUncleanEverywhere(t, { wss, reader, pendingRead, since, label: 'reset while closing' })
  const elapsed = performance.now() - since
  t.true(elapsed < 3000, `settled ${ms(elapsed)} after the reset, well before the 5 s close timeout`)
})

// --- a handshake that never gets an answer -------------------------------------

test('a server that accepts TCP and never answers the handshake: AbortSignal.timeout ends it with its TimeoutError and frees the socket', async (t) => {
  const sockets = []
  // The server reads (and ignores) the request, so it sees the client's FIN.
  const server = await rawServer(t, (socket) => {
    sockets.push(socket)
    socket.resume()
  })
  const signal = AbortSignal.timeout(300)
  const since = performance.now()
  const wss = new WebSocketStream(server.url, { signal })
  const opened = await settlement(wss.opened, 5000, 'opened', since)
  const closed = await settlement(wss.closed, 5000, 'closed', since)
  t.is(opened.status, 'rejected')
  t.is(closed.status, 'rejected')
  t.is(opened.reason, signal.reason, 'opened rejects with the signal reason')
  t.is(closed.reason, signal.reason, 'closed rejects with the signal reason')
  t.is(signal.reason.name, 'TimeoutError')
  t.true(opened.ms >= 250 && opened.ms < 2000, `opened rejected after ${ms(opened.ms)} (signal: 300 ms)`)
  settleTimes.add('never-answered handshake, 300 ms signal: closed', closed.ms)
  t.is(sockets.length, 1)
  await withTimeout(
    new Promise((resolve) => (sockets[0].destroyed ? resolve() : sockets[0].once('close', resolve))),
    5000,
    'the client to drop its TCP connection',
  )
  t.is(server.sockets.size, 0, 'no socket left on the server')
})

test('50 handshakes that never get an answer all end at their own signal timeouts and free their sockets', async (t) => {
  let accepted = 0
  let closed = 0
  let resolveAllClosed
  const allClosed = new Promise((resolve) => (resolveAllClosed = resolve))
  const server = await rawServer(t, (socket) => {
    accepted++
    socket.resume()
    socket.once('close', () => {
      if (++closed === 50) resolveAllClosed()
    })
  })
  const since = performance.now()
  const runs = Array.from({ length: 50 }, (_, i) => {
    const signal = AbortSignal.timeout(200 + i * 10)
    const wss = new WebSocketStream(server.url, { signal })
    return { signal, wss, due: 200 + i * 10 }
  })
  const outcomes = await Promise.all(runs.map(({ wss }, i) => settlement(wss.closed, 10_000, `closed #${i}`, since)))
  outcomes.forEach((outcome, i) => {
    t.is(outcome.reason, runs[i].signal.reason, `#${i} closed rejects with its signal's reason`)
    t.true(
      outcome.ms >= runs[i].due - 20,
      `#${i} did not end before its signal (${ms(outcome.ms)} < ${runs[i].due} ms)`,
    )
  })
  const late = Math.max(...outcomes.map((outcome, i) => outcome.ms - runs[i].due))
  settleTimes.add('50 never-answered handshakes: latest past its timeout', late)
  t.log(`latest rejection came ${ms(late)} after its signal's timeout`)
  await withTimeout(allClosed, 5000, 'the server to see every client socket closed')
  t.is(accepted, 50)
  t.is(server.sockets.size, 0)
})

// --- a server that never answers our Close ---------------------------------------

test('20 connections whose server keeps sending but never answers our Close all end with 1006 after the close timeout', async (t) => {
  const peer = await startRawWebSocketServer(t)
  const streams = Array.from({ length: 20 }, () => new WebSocketStream(peer.url))
  t.teardown(() => streams.forEach((wss) => wss.close()))
  const connections = await Promise.all(streams.map(() => peer.connection()))
  const opened = await withTimeout(Promise.all(streams.map((wss) => wss.opened)), 10_000, 'opened')
  const timers = connections.map(({ socket }) =>
    setInterval(() => {
      if (!socket.destroyed)
        socket.write(Buffer.concat([textFrame('still here'), encodeFrame({ opcode: OPCODE.PING })]))
    }, 50),
  )
  t.teardown(() => timers.forEach(clearInterval))
  const readers = opened.map(({ readable }) => readable.getReader())
  const since = performance.now()
  streams.forEach((wss, i) => wss.close({ closeCode: 3000 + i, reason: `close ${i}` }))
  const sent = await Promise.all(connections.map(({ frames }) => frames.closeFrame(5000)))
  sent.forEach((frame, i) => t.is(frame.code, 3000 + i, `#${i} sent its Close`))
  const outcomes = await Promise.all(streams.map((wss, i) => settlement(wss.closed, 15_000, `closed #${i}`, since)))
  outcomes.forEach((outcome, i) => {
    t.is(outcome.status, 'rejected', `#${i} closed rejects`)
    t.is(outcome.reason?.closeCode, 1006, `#${i}: 1006`)
    t.true(
      outcome.ms >= 4800 && outcome.ms < 9000,
      `#${i} ended ${ms(outcome.ms)} after close(), about the 5 s timeout`,
    )
  })
  for (let i = 0; i < readers.length; i++) {
    t.is(
      await rejectionOf(readers[i].read(), 5000),
      outcomes[i].reason,
      `#${i}: the read rejects with the closed error`,
    )
  }
  await Promise.all(connections.map(({ frames }) => withTimeout(frames.ended, 5000, 'the client drops TCP')))
  const slowest = Math.max(...outcomes.map((outcome) => outcome.ms))
  settleTimes.add('20 unanswered Closes: slowest closed', slowest)
  t.log(`slowest of 20 unanswered closes: ${ms(slowest)}`)
})

test('a Close queued behind an 8 MiB write the server never reads still ends within the close timeout, and the write rejects', async (t) => {
  const { wss, pendingWrite } = await clientWithStalledWrite(t)
  const since = performance.now()
  wss.close({ closeCode: 4000 })
  const closed = await settlement(wss.closed, 20_000, 'closed', since)
  t.is(closed.status, 'rejected')
  assertWebSocketError(t, closed.reason, { closeCode: 1006 }, 'closed')
  t.true(closed.ms < 9000, `closed settled ${ms(closed.ms)} after close(), bounded by the close timeout`)
  settleTimes.add('Close behind an unread 8 MiB write: closed', closed.ms)
  const write = await settlement(pendingWrite, 5000, 'the pending write', since)
  t.is(write.status, 'rejected', 'the 8 MiB write the server never took rejects')
  t.is(write.reason, closed.reason, 'with the closed error')
})

// --- half-close -------------------------------------------------------------------

test('a server that half-closes after some messages (FIN, no Close): closed rejects 1006 and the client ends its side of TCP', async (t) => {
  const { socket, frames, wss, readable, writable } = await openedRawClientFor(t)
  const reader = readable.getReader()
  const writer = writable.getWriter()
  socket.write(Buffer.concat([textFrame('a'), textFrame('b'), textFrame('c')]))
  for (const expected of ['a', 'b', 'c']) t.is((await withTimeout(reader.read(), 5000, 'read')).value, expected)
  const pendingRead = observed(reader.read())
  const since = performance.now()
  socket.end()
  await assertUncleanEverywhere(t, { wss, reader, writer, pendingRead, since, label: 'half-close mid-stream' })
  await withTimeout(frames.ended, 5000, 'the client to end its side of TCP')
  t.pass()
})

test('a server that half-closes while the client is writing: every write after it rejects with the closed error', async (t) => {
  const { socket, frames, wss, writable } = await openedRawClientFor(t)
  const writer = writable.getWriter()
  const writes = writeUntilRejected(writer)
  await frames.waitFor((frame) => frame.opcode === OPCODE.BINARY, 5000, 'a binary frame')
  const since = performance.now()
  socket.end()
  await assertUncleanEverywhere(t, {
    wss,
    writer,
    pendingWrite: writes.rejected,
    since,
    label: 'half-close while writing',
  })
  await withTimeout(frames.ended, 5000, 'the client to end its side of TCP')
  t.pass()
})

test('a server that half-closes in the middle of its 101 answer: opened rejects, closed 1006', async (t) => {
  const server = await rawServer(t, async (socket) => {
    const request = await readRequest(socket).catch(() => null)
    if (!request) return
    const answer = handshakeResponse(request)
    socket.end(answer.subarray(0, answer.length >> 1))
  })
  const since = performance.now()
  const wss = new WebSocketStream(server.url)
  const opened = await settlement(wss.opened, 10_000, 'opened', since)
  t.is(opened.status, 'rejected')
  t.true(opened.reason instanceof WebSocketError)
  const closed = await settlement(wss.closed, 10_000, 'closed', since)
  assertWebSocketError(t, closed.reason, { closeCode: 1006 }, 'closed')
  settleTimes.add('half-close mid-handshake: closed', closed.ms)
})

// --- a slow, fragmented handshake -----------------------------------------------------

/** Writes `bytes` one byte at a time, `gapMs` apart: a slow server is time passing. */
async function dribble(socket, bytes, gapMs) {
  for (const byte of bytes) {
    if (socket.destroyed) return
    socket.write(Buffer.of(byte))
    await delay(gapMs)
  }
}

function slowServer(t, { protocol, gapMs = 3 } = {}) {
  return rawServer(t, async (socket) => {
    const request = await readRequest(socket).catch(() => null)
    if (!request) return
    await dribble(socket, handshakeResponse(request, { protocol }), gapMs)
    await dribble(socket, Buffer.concat([textFrame('slow ☃'), binaryFrame(Buffer.from([1, 2, 3]))]), gapMs)
    socket.resume()
    socket.on('data', () => {})
  })
}

test('a 101 answer written one byte every 3 ms still opens, with its subprotocol, and messages dribbled the same way arrive whole', async (t) => {
  const server = await slowServer(t, { protocol: 'chat' })
  const since = performance.now()
  const { wss, readable, protocol } = await openStream(t, server.url, { protocols: ['chat'] }, 20_000)
  const openedAfter = performance.now() - since
  t.is(protocol, 'chat')
  t.true(openedAfter > 300, `the handshake really was slow (${ms(openedAfter)})`)
  const reader = readable.getReader()
  t.is((await withTimeout(reader.read(), 10_000, 'text')).value, 'slow ☃')
  t.deepEqual((await withTimeout(reader.read(), 10_000, 'binary')).value, new Uint8Array([1, 2, 3]))
  t.log(`opened after ${ms(openedAfter)} of one-byte writes`)
  wss.close()
})

test('20 clients each getting their 101 one byte at a time all open and read their messages', async (t) => {
  const server = await slowServer(t, { gapMs: 2 })
  const results = await Promise.all(
    Array.from({ length: 20 }, async () => {
      const { wss, readable } = await openStream(t, server.url, undefined, 30_000)
      const reader = readable.getReader()
      const text = (await withTimeout(reader.read(), 15_000, 'text')).value
      const binary = (await withTimeout(reader.read(), 15_000, 'binary')).value
      wss.close()
      return { text, binary }
    }),
  )
  for (const { text, binary } of results) {
    t.is(text, 'slow ☃')
    t.deepEqual(binary, new Uint8Array([1, 2, 3]))
  }
})

test('a Close frame dribbled one byte at a time is still a clean close with its code and reason', async (t) => {
  const { socket, frames, wss } = await openedRawClientFor(t)
  const since = performance.now()
  await dribble(socket, closeFrame(4321, 'slowly'), 3)
  await frames.closeFrame(5000)
  socket.end()
  const closed = await settlement(wss.closed, 10_000, 'closed', since)
  t.is(closed.status, 'fulfilled')
  t.deepEqual(closed.value, { closeCode: 4321, reason: 'slowly' })
})
