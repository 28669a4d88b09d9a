// The `idleTimeout` option: a connection on which nothing has been received
// for `idleTimeout` ms sends a Ping, and one still silent another
// `idleTimeout` later fails without a closing handshake (1006, a message
// naming idleTimeout). What counts as life: any byte received, and, while a
// write of ours is pending, the socket taking our bytes. A reader that does
// not read (a full inbound queue) suspends the timer, and so does close().
// Real sockets on 127.0.0.1: `ws` is the live peer (it answers pings by
// itself), raw servers and a relay are the dead or frozen ones. The machine
// is shared and noisy: only the bounds the behaviour requires are asserted
// (never failing before 2 × idleTimeout, failing well within a generous upper
// bound); the figures are logged. The tests are serial so that one test's
// 8 MiB write does not delay another's pong.
import test from 'ava'
import net from 'node:net'
import { setTimeout as delay } from 'node:timers/promises'
import { WebSocketStream } from '../index.mjs'
import { assertTypeError, assertWebSocketError, thrownBy } from './helpers/errors.mjs'
import { clientFor, openedClientFor, openedRawClientFor, rawServerFor, wsServerFor } from './helpers/fixtures.mjs'
import { closeFrame, OPCODE, startRawWebSocketServer } from './helpers/raw-server.mjs'
import { isPending, rejectionOf, withTimeout } from './helpers/settle.mjs'

const KiB = 1 << 10
const MiB = 1 << 20
// How late a failure may come past 2 × idleTimeout on a loaded machine.
const UPPER_MARGIN = 1500
// How early a timer may appear to fire: timers and clocks are not exact to the millisecond.
const LOWER_MARGIN = 50

function pattern(length, seed) {
  const bytes = Buffer.allocUnsafe(length)
  for (let i = 0; i < length; i++) bytes[i] = (i * 7 + seed * 31 + (i >> 9)) & 0xff
  return bytes
}

/** When `promise` settled (performance.now()), recorded as it happens; null while pending. */
function settleTime(promise) {
  const record = { at: null }
  promise.then(
    () => (record.at = performance.now()),
    () => (record.at = performance.now()),
  )
  return record
}

/** A `ws` server that sends nothing and counts the pings it receives (it answers them by itself). */
async function silentPingCountingServer(t, onConnection = () => {}) {
  const pings = []
  const peer = await wsServerFor(t, (socket, request) => {
    socket.on('ping', () => pings.push(performance.now()))
    onConnection(socket, request)
  })
  return { ...peer, pings }
}

test.serial(
  'a server that reads but never answers: a Ping after idleTimeout, then closed rejects with 1006 naming idleTimeout, no Close sent',
  async (t) => {
    const T = 200
    const peer = await startRawWebSocketServer(t)
    // Taken before the client exists, so it is earlier than the moment the
    // connection opened: a lower bound measured from here is safe.
    const startedAt = performance.now()
    const wss = clientFor(t, peer.url, { idleTimeout: T })
    const closedAt = settleTime(wss.closed)
    const { frames } = await peer.connection()
    const { readable, writable } = await withTimeout(wss.opened, 5000, 'opened')
    // Taken after the connection opened: an upper bound measured from here is safe.
    const openedAt = performance.now()
    const pendingRead = readable.getReader().read()
    const writer = writable.getWriter()
    // Looked at once closed has rejected; handled now so that their rejection is never reported as unhandled.
    pendingRead.catch(() => {})
    writer.closed.catch(() => {})

    const error = await rejectionOf(wss.closed, 2 * T + UPPER_MARGIN, 'closed')
    const failedAt = closedAt.at
    t.log(
      `failed ${(failedAt - startedAt).toFixed(0)} ms after the constructor, ${(failedAt - openedAt).toFixed(0)} ms after opened (idleTimeout ${T})`,
    )
    assertWebSocketError(t, error, { closeCode: 1006 }, 'closed')
    t.regex(error.message, /idleTimeout/)
    t.true(
      failedAt - startedAt >= 2 * T - LOWER_MARGIN,
      `failed after only ${(failedAt - startedAt).toFixed(0)} ms: it must wait for the Ping's idleTimeout too`,
    )

    // The Ping went out once idleTimeout of silence had passed, before the failure.
    const ping = frames.frames.find((frame) => frame.opcode === OPCODE.PING)
    t.truthy(ping, `the server saw no Ping before the failure: opcodes ${frames.frames.map((f) => f.opcode)}`)
    t.true(ping?.masked, 'the Ping is masked')
    // The failure has no closing handshake: no Close frame, and TCP ends.
    await withTimeout(frames.ended, 5000, 'the client to drop TCP')
    t.deepEqual(
      frames.frames.filter((frame) => frame.opcode !== OPCODE.PING).map((frame) => frame.opcode),
      [],
      'the client sent nothing but Pings (no Close)',
    )

    // Both streams are errored with the same error.
    t.is(await rejectionOf(pendingRead, 1000, 'the pending read'), error, 'the pending read rejects with it')
    t.is(await rejectionOf(writer.closed, 1000, 'writer.closed'), error, 'the writable is errored with it')
  },
)

test.serial(
  'a relay that freezes both directions after one exchange: closed rejects with 1006 within 2 × idleTimeout and a margin',
  async (t) => {
    const T = 200
    const upstream = await wsServerFor(t)
    let freeze = null
    const relay = await rawServerFor(t, (downstream) => {
      const toServer = net.connect(upstream.port, '127.0.0.1')
      toServer.on('error', () => {})
      t.teardown(() => toServer.destroy())
      downstream.pipe(toServer)
      toServer.pipe(downstream)
      // A frozen path (a dead NAT entry, a stalled middlebox): nothing is
      // forwarded either way, and nobody closes anything.
      freeze = () => {
        downstream.unpipe(toServer)
        toServer.unpipe(downstream)
        downstream.pause()
        toServer.pause()
      }
    })
    const { wss, readable, writable } = await openedClientFor(t, relay.url, { idleTimeout: T })
    const closedAt = settleTime(wss.closed)
    const reader = readable.getReader()
    const writer = writable.getWriter()
    // Before the write, so before the echo was received: the last sign of life comes after this.
    const exchangedAt = performance.now()
    await writer.write('through the relay')
    t.deepEqual(await withTimeout(reader.read(), 5000, 'the echo'), { value: 'through the relay', done: false })
    freeze()
    const frozenAt = performance.now()

    const error = await rejectionOf(wss.closed, 2 * T + UPPER_MARGIN, 'closed')
    t.log(`failed ${(closedAt.at - frozenAt).toFixed(0)} ms after the freeze (idleTimeout ${T})`)
    assertWebSocketError(t, error, { closeCode: 1006 }, 'closed')
    t.regex(error.message, /idleTimeout/)
    t.true(
      closedAt.at - exchangedAt >= 2 * T - LOWER_MARGIN,
      `failed ${(closedAt.at - exchangedAt).toFixed(0)} ms after the exchange began: before 2 × idleTimeout of silence`,
    )
  },
)

test.serial('a peer that answers pings but sends no data keeps the connection open for ten intervals', async (t) => {
  const T = 100
  const peer = await silentPingCountingServer(t)
  const { wss } = await openedClientFor(t, peer.url, { idleTimeout: T })
  const closedAt = settleTime(wss.closed)
  // What is checked is time passing: ten idle intervals with only pings and pongs.
  await delay(10 * T)
  t.log(`${peer.pings.length} pings in ${10 * T} ms (idleTimeout ${T})`)
  t.is(closedAt.at, null, 'closed settled while the peer was answering pings')
  // A Ping each time idleTimeout passes without anything received: the pong
  // restarts the timer, so there is more than one.
  t.true(peer.pings.length >= 2, `the server saw ${peer.pings.length} pings in ${10 * T} ms`)
  wss.close()
  t.deepEqual(await withTimeout(wss.closed, 5000, 'closed'), { closeCode: 1005, reason: '' })
})

test.serial(
  'a reader that leaves the 1 MiB queue full for 5 × idleTimeout is not failed, reads everything intact, and stays open',
  async (t) => {
    const T = 150
    const count = 48
    const messages = Array.from({ length: count }, (_, i) => pattern(64 * KiB, i))
    // 3 MiB at once, then nothing: the client's queue fills, its socket is
    // no longer read, and the server's pongs would wait behind the data.
    const peer = await silentPingCountingServer(t, (socket) => {
      for (const message of messages) socket.send(message)
    })
    const { wss, readable } = await openedClientFor(t, peer.url, { idleTimeout: T })
    const closedAt = settleTime(wss.closed)
    // What is checked is time passing: the application reads nothing.
    await delay(5 * T)
    t.log(`${peer.pings.length} pings while the application did not read`)
    t.is(closedAt.at, null, 'closed settled while the application was not reading')
    t.true(await isPending(wss.closed), 'closed is pending')

    const pingsBeforeReading = peer.pings.length
    const reader = readable.getReader()
    for (let i = 0; i < count; i++) {
      const { value, done } = await withTimeout(reader.read(), 5000, `message ${i}`)
      t.false(done, `message ${i}`)
      t.true(
        value instanceof Uint8Array &&
          Buffer.from(value.buffer, value.byteOffset, value.byteLength).equals(messages[i]),
        `message ${i} intact and in order`,
      )
    }
    // A few intervals of silence after the data: the server answers pings, so it is alive.
    await delay(4 * T)
    t.log(`${peer.pings.length - pingsBeforeReading} pings after reading resumed`)
    t.is(closedAt.at, null, 'closed settled after reading resumed')
    t.true(peer.pings.length > pingsBeforeReading, 'the timer runs again once reading resumed: a Ping went out')
    wss.close()
    t.deepEqual(await withTimeout(wss.closed, 5000, 'closed'), { closeCode: 1005, reason: '' })
  },
)

test.serial(
  'an 8 MiB write to a slow but live server that sends nothing completes, then the silence fails the connection',
  async (t) => {
    const T = 200
    const payload = pattern(8 * MiB, 5)
    // The frame on the wire: a 10-byte header, the mask key, the payload.
    const frameBytes = 8 * MiB + 14
    const { wss, writable, socket, frames } = await openedRawClientFor(t, { options: { idleTimeout: T } })
    const closedAt = settleTime(wss.closed)
    // The server reads about 3 MiB/s: a budget of 160 KiB every 50 ms; it
    // stops reading once the budget is spent, and never sends anything. The
    // socket buffers on both sides hold about 5 MiB of the 8, so the write
    // still waits for the server for about a second.
    const budgetPerTick = 160 * KiB
    let budget = budgetPerTick
    let received = 0
    let allReceivedAt = null
    const throttle = (chunk) => {
      received += chunk.length
      if (received >= frameBytes && allReceivedAt === null) allReceivedAt = performance.now()
      budget -= chunk.length
      if (budget <= 0) socket.pause()
    }
    socket.on('data', throttle)
    const ticker = setInterval(() => {
      budget = Math.min(budget + budgetPerTick, budgetPerTick)
      if (budget > 0) socket.resume()
    }, 50)
    t.teardown(() => clearInterval(ticker))

    const writer = writable.getWriter()
    const writeStartedAt = performance.now()
    const outcome = await withTimeout(
      writer.write(payload).then(
        () => 'written',
        (error) => error,
      ),
      15_000,
      'the 8 MiB write',
    )
    const writtenAt = performance.now()
    t.log(`8 MiB write resolved after ${(writtenAt - writeStartedAt).toFixed(0)} ms (idleTimeout ${T})`)
    t.is(outcome, 'written', 'the write resolved')
    t.is(closedAt.at, null, 'closed settled during the write')
    // Otherwise the write never outlasted the idle timeout and the test shows nothing.
    t.true(
      writtenAt - writeStartedAt >= 3 * T,
      `the write took only ${(writtenAt - writeStartedAt).toFixed(0)} ms: the throttle did not hold it past 2 × idleTimeout`,
    )

    // Nothing from the server after the write: the timer still works. The
    // kernel may still be handing the server the last ~5 MiB (which is life
    // too), hence the long wait; the bounds are checked below.
    const error = await rejectionOf(wss.closed, 15_000, 'closed after the write')
    const sinceWritten = closedAt.at - writtenAt
    const sinceAllReceived = allReceivedAt === null ? null : closedAt.at - allReceivedAt
    t.log(
      `failed ${sinceWritten.toFixed(0)} ms after the write resolved, ${sinceAllReceived?.toFixed(0) ?? 'before'} ms after the server had read it all (${(allReceivedAt - writeStartedAt).toFixed(0)} ms after the write began)`,
    )
    assertWebSocketError(t, error, { closeCode: 1006 }, 'closed')
    t.regex(error.message, /idleTimeout/)
    // The socket taking the write's last bytes was a sign of life: a Ping an
    // idleTimeout after it at the earliest, the end another idleTimeout
    // later. The promise resolves a little after the socket took those
    // bytes, hence the wider margin.
    t.true(
      sinceWritten >= 2 * T - 2 * LOWER_MARGIN,
      `failed only ${sinceWritten.toFixed(0)} ms after the write resolved: before 2 × idleTimeout of silence`,
    )
    // Once the server has read everything, the client's TCP has nothing left
    // to hand over: only the Ping's idleTimeout and its own remain.
    t.true(
      sinceAllReceived === null || sinceAllReceived <= 2 * T + UPPER_MARGIN,
      `failed ${sinceAllReceived?.toFixed(0)} ms after the server had read everything`,
    )

    // The rest is read at once: the message arrived intact, with a Ping after
    // it (the Ping cannot overtake the frame), and no Close.
    clearInterval(ticker)
    socket.off('data', throttle)
    socket.resume()
    const message = await frames.waitFor((frame) => frame.opcode === OPCODE.BINARY, 5000, 'the 8 MiB message')
    t.true(message.fin && message.payload.equals(payload), 'the 8 MiB message arrived intact')
    await frames.until(
      () => frames.frames.findIndex((frame) => frame.opcode === OPCODE.PING) > frames.frames.indexOf(message),
      5000,
      'a Ping after the message',
    )
    t.false(
      frames.frames.some((frame) => frame.opcode === OPCODE.CLOSE),
      'no Close: the failure has no closing handshake',
    )
  },
)

test.serial('idleTimeout must be a whole number from 0 to 2147483647: anything else is a TypeError', (t) => {
  for (const idleTimeout of [-1, 1.5, '100', 2 ** 31, Number.NaN, Number.POSITIVE_INFINITY]) {
    const error = thrownBy(t, () => new WebSocketStream('ws://127.0.0.1:1/', { idleTimeout }), String(idleTimeout))
    assertTypeError(t, error, `idleTimeout ${String(idleTimeout)}`)
    t.regex(error?.message ?? '', /idleTimeout/, `the message names the option for ${String(idleTimeout)}`)
  }
})

test.serial('idleTimeout 0, undefined and 2147483647 are accepted; 0 and undefined never ping', async (t) => {
  const peer = await silentPingCountingServer(t)
  const off = await openedClientFor(t, peer.url, { idleTimeout: 0 })
  const absent = await openedClientFor(t, peer.url, { idleTimeout: undefined })
  const longest = await openedClientFor(t, peer.url, { idleTimeout: 2147483647 })
  const clients = [off, absent, longest]
  const closedAt = clients.map(({ wss }) => settleTime(wss.closed))
  // What is checked is time passing: a silent peer, and no timer that fires.
  await delay(600)
  t.deepEqual(
    closedAt.map((record) => record.at),
    [null, null, null],
    'no connection settled',
  )
  t.deepEqual(peer.pings, [], 'no Ping was sent')
  for (const { wss } of clients) wss.close()
  for (const { wss } of clients) {
    t.deepEqual(await withTimeout(wss.closed, 5000, 'closed'), { closeCode: 1005, reason: '' })
  }
})

test.serial(
  'after close() the idle timer no longer applies: a server that replies to the Close late still closes cleanly',
  async (t) => {
    const T = 100
    const { wss, socket, frames } = await openedRawClientFor(t, { options: { idleTimeout: T } })
    const closedAt = settleTime(wss.closed)
    wss.close({ closeCode: 1000, reason: 'done' })
    const { code, reason } = await frames.closeFrame(5000)
    t.deepEqual({ code, reason }, { code: 1000, reason: 'done' })
    // What is checked is time passing: six idle intervals with our Close unanswered.
    await delay(6 * T)
    t.is(closedAt.at, null, 'closed settled while the closing handshake was under way')
    const afterClose = frames.frames.slice(frames.frames.indexOf(frames.frames.find((f) => f.opcode === OPCODE.CLOSE)))
    t.deepEqual(
      afterClose.map((frame) => frame.opcode),
      [OPCODE.CLOSE],
      'nothing (no Ping) after our Close',
    )
    socket.end(closeFrame(1000, 'done'))
    t.deepEqual(await withTimeout(wss.closed, 5000, 'closed'), { closeCode: 1000, reason: 'done' })
  },
)
