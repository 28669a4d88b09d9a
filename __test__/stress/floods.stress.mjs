// Floods (docs/design.md "Reading and backpressure": the inbound queue is
// bounded and the socket is not read while it is full, pings included, and
// pongs obey backpressure; "Writing and the write bound": a write resolves
// only when the bytes queued in user space are under the bound). The client
// runs in a child process (fixtures/flood-client.mjs) so its RSS is its own;
// the server here floods it with pings and data, reads or never reads, then
// lets the client finish and checks that nothing was lost or reordered.
import test from 'ava'
import { setTimeout as delay } from 'node:timers/promises'
import {
  closeFrame,
  encodeFrame,
  OPCODE,
  parseCloseBody,
  readFrames,
  startRawWebSocketServer,
  textFrame,
} from '../helpers/raw-server.mjs'
import { withTimeout } from '../helpers/settle.mjs'
import { nodeChild } from './support/child.mjs'
import { MiB } from './support/checks.mjs'

const FLOOD_MS = 3000
const mib = (bytes) => `${(bytes / MiB).toFixed(1)} MiB`

function pingPayload(sequence) {
  const payload = Buffer.alloc(125, 0x70)
  payload.writeUInt32BE(sequence, 0)
  return payload
}

/** `count` Ping frames with consecutive sequence numbers, as one buffer. */
function pingBatch(first, count) {
  return Buffer.concat(
    Array.from({ length: count }, (_, i) => encodeFrame({ opcode: OPCODE.PING, payload: pingPayload(first + i) })),
  )
}

/** Pumps pings numbered 0, 1, 2… onto `socket` in batches of 256; `sent()` is how many so far. */
function pingFlood(socket) {
  let sent = 0
  const pings = pump(socket, () => {
    const batch = pingBatch(sent, 256)
    sent += 256
    return batch
  })
  pings.sent = () => sent
  return pings
}

function dataMessage(sequence) {
  const payload = Buffer.alloc(64 << 10, sequence & 0xff)
  payload.writeUInt32BE(sequence, 0)
  return encodeFrame({ opcode: OPCODE.BINARY, payload })
}

/**
 * Writes `next()` chunks as fast as the kernel takes them (at most 1 MiB
 * waiting in user space) until stopped. `flushed` counts the bytes the kernel
 * took.
 */
function pump(socket, next) {
  let stopNow
  const stopped = new Promise((resolve) => (stopNow = resolve))
  const state = { running: true, flushed: 0, written: 0 }
  state.done = (async () => {
    while (state.running && !socket.destroyed) {
      const chunk = next()
      state.written += chunk.length
      const fits = socket.write(chunk, (error) => {
        if (!error) state.flushed += chunk.length
      })
      if (!fits) {
        let wake
        const drained = new Promise((resolve) => (wake = resolve))
        socket.on('drain', wake)
        socket.on('close', wake)
        await Promise.race([drained, stopped])
        socket.off('drain', wake)
        socket.off('close', wake)
      } else {
        await new Promise((resolve) => setImmediate(resolve))
      }
    }
  })()
  state.stop = () => {
    state.running = false
    stopNow()
    return state.done
  }
  return state
}

/**
 * Reads the client's frames on `socket` (resuming it) and keeps only
 * figures, since a flood brings hundreds of thousands of pongs: pongs
 * counted and checked to carry ping sequence numbers in increasing order,
 * 'last' seen, 64 KiB data frames checked to be whole, in order and intact,
 * the Close. `until(predicate, ms, label)` waits for the state to satisfy
 * `predicate`.
 */
function readClient(socket) {
  const state = {
    pongs: 0,
    disorderedPongs: 0,
    lastPongSequence: -1,
    lastPing: false,
    data: 0,
    brokenData: 0,
    unmasked: 0,
    close: null,
  }
  const frames = readFrames(socket, {
    keep: false,
    onFrame(frame) {
      if (!frame.masked) state.unmasked++
      if (frame.opcode === OPCODE.PONG) {
        state.pongs++
        if (frame.payload.toString() === 'last') state.lastPing = true
        else if (frame.payload.length !== 125 || frame.payload.readUInt32BE(0) <= state.lastPongSequence) {
          state.disorderedPongs++
        } else state.lastPongSequence = frame.payload.readUInt32BE(0)
      } else if (frame.opcode === OPCODE.BINARY) {
        const { payload } = frame
        const intact =
          frame.fin &&
          payload.length === 64 << 10 &&
          payload.readUInt32BE(0) === state.data &&
          payload[100] === (state.data & 0xff)
        if (!intact) state.brokenData++
        state.data++
      } else if (frame.opcode === OPCODE.CLOSE) {
        state.close = parseCloseBody(frame.payload)
      }
    },
  })
  state.until = (predicate, ms, label) => frames.until(() => predicate(state), ms, label)
  return state
}

/** Starts the flood client; resolves once it has connected, with the child and the server-side socket. */
async function startClient(t, server, { write, readAfter }) {
  const client = nodeChild(
    t,
    'flood-client.mjs',
    [server.url, String(FLOOD_MS), write ? '1' : '0', readAfter ? '1' : '0'],
    {
      nodeArgs: ['--expose-gc'],
      killAfterMs: 90_000,
    },
  )
  const { socket } = await server.connection()
  return { client, socket }
}

const phase = (client, name) => client.jsonLines().find((line) => line.phase === name)

async function waitPhase(client, name, ms = 30_000) {
  await client.waitFor(new RegExp(`"phase":"${name}"`), ms)
  return phase(client, name)
}

/** Answers the client's Close and checks the whole run ended cleanly with 1000 'done'. */
async function finish(t, client, socket, reading) {
  try {
    await reading.until((state) => state.close !== null, 30_000, "the client's Close")
  } catch (error) {
    // No Close: say what the client process last reported, and how it ended if it did.
    const exit = await Promise.race([client.exited, delay(2000, 'still running')])
    t.log(`client exit: ${JSON.stringify(exit)}; stdout: ${client.output.stdout.slice(-1500)}`)
    t.log(`client stderr: ${client.output.stderr.slice(-1500) || '(none)'}`)
    throw error
  }
  t.is(reading.close.code, 1000)
  t.is(reading.unmasked, 0, 'every client frame is masked')
  socket.end(closeFrame(1000, 'done'))
  const closed = await waitPhase(client, 'closed', 15_000)
  t.deepEqual(closed.closed, { ok: true, closeCode: 1000, reason: 'done' }, 'the client closed cleanly')
  const { code, signal } = await withTimeout(client.exited, 15_000, 'the client to exit by itself')
  t.is(signal, null, client.output.stderr)
  t.is(code, 0, client.output.stderr)
}

const lastPong = (reading, ms = 20_000) => reading.until((state) => state.lastPing, ms, 'the pong for the last ping')

test.serial(
  'a ping flood while the application does not read: every pong answers a ping in order, RSS stays flat',
  async (t) => {
    const server = await startRawWebSocketServer(t, { read: false })
    const { client, socket } = await startClient(t, server, { write: false, readAfter: true })
    const reading = readClient(socket)
    const pings = pingFlood(socket)
    const flood = await waitPhase(client, 'flood')
    await pings.stop()
    // The last ping is always answered (RFC 6455 §5.5.3 lets older ones go unanswered).
    socket.write(encodeFrame({ opcode: OPCODE.PING, payload: 'last' }))
    await lastPong(reading)
    t.true(reading.pongs > 1, 'pongs came back during the flood')
    t.is(reading.disorderedPongs, 0, 'each pong carries a ping payload, newer than the one before')
    t.is(reading.lastPongSequence, pings.sent() - 1, 'the last ping of the flood was answered')
    socket.write(textFrame('end'))
    client.child.kill('SIGUSR2') // the application reads 'end' and closes
    const growth = flood.peak - flood.baseline
    t.true(growth < 40 * MiB, `client RSS grew by ${mib(growth)} during the flood`)
    t.log(
      `${pings.sent()} pings (${mib(pings.flushed)} taken by the kernel) in ${FLOOD_MS} ms, ${reading.pongs} pongs; client RSS ${mib(flood.baseline)} → peak ${mib(flood.peak)}`,
    )
    await finish(t, client, socket, reading)
  },
)

test.serial(
  'a data flood with pings while the application does not read: the server is held back, RSS stays flat, then every message and the last ping get through',
  async (t) => {
    const server = await startRawWebSocketServer(t, { read: false })
    const { client, socket } = await startClient(t, server, { write: false, readAfter: true })
    const reading = readClient(socket)
    let messages = 0
    let pingsSent = 0
    const flood = pump(socket, () => {
      const chunk = Buffer.concat([dataMessage(messages), pingBatch(pingsSent, 16)])
      messages++
      pingsSent += 16
      return chunk
    })
    const floodPhase = await waitPhase(client, 'flood')
    const flushedAtEnd = flood.flushed
    // What is measured is time passing: how much more the kernel takes in 500 ms.
    await delay(500)
    const flushedLater = flood.flushed
    await flood.stop()
    t.true(
      flushedAtEnd < 48 * MiB,
      `the kernel took only ${mib(flushedAtEnd)} from the server while the client did not read`,
    )
    t.true(
      flushedLater - flushedAtEnd < 2 * MiB,
      `the server stays held back (${mib(flushedLater - flushedAtEnd)} more in 500 ms)`,
    )
    const growth = floodPhase.peak - floodPhase.baseline
    t.true(growth < 40 * MiB, `client RSS grew by ${mib(growth)} during the flood`)
    socket.write(encodeFrame({ opcode: OPCODE.PING, payload: 'last' }))
    socket.write(textFrame('end'))
    client.child.kill('SIGUSR2') // the application starts reading
    const read = await waitPhase(client, 'read')
    t.is(read.messages, messages, 'every data message reached the application')
    t.is(read.outOfOrder, 0, 'in order')
    await lastPong(reading)
    t.is(reading.disorderedPongs, 0, 'pongs answer pings in order')
    t.log(
      `server held at ${mib(flushedAtEnd)} (${messages} × 64 KiB messages and ${pingsSent} pings offered); client RSS ${mib(floodPhase.baseline)} → peak ${mib(floodPhase.peak)}; ${read.messages} messages read after`,
    )
    await finish(t, client, socket, reading)
  },
)

test.serial(
  'a server that never reads our data: writes wait, RSS stays flat, and once it reads every resolved write arrives intact and in order',
  async (t) => {
    const server = await startRawWebSocketServer(t, { read: false })
    const { client, socket } = await startClient(t, server, { write: true, readAfter: false })
    // The socket stays paused: the server reads nothing for the whole run.
    const flood = await waitPhase(client, 'flood')
    t.true(
      flood.resolvedBytes < 32 * MiB,
      `writes resolved for only ${mib(flood.resolvedBytes)} while the server did not read`,
    )
    const growth = flood.peak - flood.baseline
    t.true(growth < 40 * MiB, `client RSS grew by ${mib(growth)} while its writes waited`)
    const reading = readClient(socket)
    const drained = await waitPhase(client, 'drained')
    t.is(drained.lastWrite, 'resolved', 'the write pending during the stall resolves once the server reads')
    await reading.until((state) => state.close !== null, 30_000, "the client's Close")
    t.is(reading.data, drained.resolvedCount, 'every resolved write arrived, once')
    t.is(reading.brokenData, 0, 'in order and intact')
    t.log(
      `writes resolved for ${mib(flood.resolvedBytes)} in ${FLOOD_MS} ms while the server did not read; client RSS ${mib(flood.baseline)} → peak ${mib(flood.peak)}`,
    )
    await finish(t, client, socket, reading)
  },
)

test.serial(
  'a server that floods pings and never reads our pongs: client RSS stays flat (pongs obey backpressure), and the last ping is answered once it reads',
  async (t) => {
    const server = await startRawWebSocketServer(t, { read: false })
    // readAfter keeps the application from closing (a Close of ours would end
    // the pongs) until the server has checked the answer to its last ping.
    const { client, socket } = await startClient(t, server, { write: false, readAfter: true })
    // The socket stays paused: the server never reads a pong while it floods pings.
    const pings = pingFlood(socket)
    const flood = await waitPhase(client, 'flood')
    await pings.stop()
    const growth = flood.peak - flood.baseline
    t.log(
      `server offered ${pings.sent()} pings, the client took ${mib(pings.flushed)} of them in ${FLOOD_MS} ms without one pong read; client RSS ${mib(flood.baseline)} → peak ${mib(flood.peak)}`,
    )
    if (
      !t.true(growth < 48 * MiB, `client RSS grew by ${mib(growth)} in ${FLOOD_MS} ms of pings whose pongs nobody read`)
    ) {
      // Unbounded pongs: reading them all back would only take longer.
      return
    }
    const reading = readClient(socket)
    socket.write(encodeFrame({ opcode: OPCODE.PING, payload: 'last' }))
    await lastPong(reading)
    t.true(reading.pongs * 131 < 48 * MiB, `the pongs left queued for the server (${reading.pongs}) are bounded too`)
    t.is(reading.disorderedPongs, 0, 'pongs answer pings in order')
    socket.write(textFrame('end'))
    client.child.kill('SIGUSR2')
    await finish(t, client, socket, reading)
  },
)
