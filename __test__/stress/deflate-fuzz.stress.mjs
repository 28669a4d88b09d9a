// Hostile compressed streams (RFC 7692 on the receiving side; docs/design.md
// "Compression", "Closing"). Fuzz: thousands of connections to a server that
// sends valid compressed messages and then damages them — a bit flipped in a
// compressed payload, the stream cut short, frames split at random points —
// and each connection must end by itself within the close timeout: `closed`
// settles, the messages before the damage arrive intact, the process stays
// up and its memory bounded. Flood: a server that sends far more compressed
// data than the client would hold inflated, to a client that does not read,
// must not get it inflated ahead of the reader. Random choices come from one
// seed, printed, and taken from WEBSOCKETSTREAM_FUZZ_SEED when set, so a
// failure replays.
import test from 'ava'
import { WebSocketStream, WebSocketError } from '../../index.mjs'
import {
  closeFrame,
  encodeFrame,
  handshakeResponse,
  messageDeflater,
  messageFrames,
  OPCODE,
  readFrames,
  readRequest,
  sampleMessage,
  seededRandom,
  startRawWebSocketServer,
} from '../helpers/raw-server.mjs'
import { withTimeout } from '../helpers/settle.mjs'
import { rawServerFor } from '../helpers/fixtures.mjs'
import { MiB, ms, settlement } from './support/checks.mjs'

const SEED = Number(process.env.WEBSOCKETSTREAM_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 32))
const CONNECTIONS = 3000
const CONCURRENCY = 16
const TIME_BUDGET_MS = 40_000
// CLOSE_TIMEOUT (src/limits.rs) and a margin for two busy cores.
const SETTLE_LIMIT_MS = 5000 + 2000
const mib = (bytes) => `${(bytes / MiB).toFixed(1)} MiB`

/** A generator for connection `index`: the same seed and index give the same stream. */
const randomFor = (index) => seededRandom((SEED + Math.imul(index + 1, 0x9e3779b9)) >>> 0)

/**
 * The streams the fuzz damages: a few compressed conversations, each an
 * answer (with or without server_no_context_takeover) and messages of every
 * size class, most compressed in one window, some plain between them.
 */
function baseStreams(count) {
  const random = seededRandom(SEED)
  return Array.from({ length: count }, (_, index) => {
    const contextTakeover = index % 4 !== 0
    const deflate = messageDeflater({ contextTakeover })
    const messages = Array.from({ length: 1 + random.int(6) }, (_, i) => {
      const size = [0, 1 + random.int(200), 1000 + random.int(4000), 20_000 + random.int(50_000)][random.int(4)]
      const text = random.next() < 0.5
      const data = Buffer.from(sampleMessage(size, { text, seed: index * 10 + i }))
      const compressed = random.next() < 0.8
      return {
        opcode: text ? OPCODE.TEXT : OPCODE.BINARY,
        data,
        compressed,
        payload: compressed ? deflate(data) : data,
      }
    })
    const answer = contextTakeover ? 'permessage-deflate' : 'permessage-deflate; server_no_context_takeover'
    return { answer, messages }
  })
}

const MUTATIONS = ['flip', 'truncate', 'split']
// How the server ends TCP after a truncated stream: a FIN, or a reset.
const TRUNCATED_ENDS = ['fin', 'reset']

/**
 * What the server sends connection `index`: the stream's answer, its bytes
 * in `writes` (the first one in the same write as the 101 when
 * `withHandshake`), how TCP ends after them (`endAfter`: 'fin', 'reset', or
 * null when the client's Close ends it), what the
 * client must read (`expected`: exactly, for 'split'; as far as it reads,
 * otherwise) and the mutation.
 */
function damagedStream(streams, index) {
  const random = randomFor(index)
  const stream = streams[random.int(streams.length)]
  const mutation = MUTATIONS[random.int(MUTATIONS.length)]
  const flippable = stream.messages.flatMap((message, i) =>
    message.compressed && message.payload.length > 0 ? [i] : [],
  )
  const flipped = mutation === 'flip' && flippable.length > 0 ? flippable[random.int(flippable.length)] : -1
  const frames = []
  for (const [i, message] of stream.messages.entries()) {
    const payload = Buffer.from(message.payload)
    if (i === flipped) {
      const bit = random.int(payload.length * 8)
      payload[bit >> 3] ^= 1 << (bit & 7)
    }
    const fragmentSize = random.next() < 0.5 ? Number.POSITIVE_INFINITY : 1 + random.int(Math.max(1, payload.length))
    const fragments = messageFrames(message.opcode, payload, { fragmentSize, compressed: message.compressed })
    if (fragments.length > 1 && random.next() < 0.5) {
      fragments.splice(1, 0, encodeFrame({ opcode: OPCODE.PING, payload: `ping ${i}` }))
    }
    frames.push(...fragments)
  }
  frames.push(closeFrame(1000))
  let bytes = Buffer.concat(frames)
  if (mutation === 'truncate') bytes = bytes.subarray(0, random.int(bytes.length))
  // Up to 4 writes, cut anywhere: frame headers and payloads arrive in pieces.
  const cuts = Array.from({ length: random.int(4) }, () => random.int(bytes.length + 1)).sort((a, b) => a - b)
  const bounds = [0, ...cuts, bytes.length]
  const writes = bounds.slice(1).map((end, i) => bytes.subarray(bounds[i], end))
  const intactUntil = mutation === 'flip' ? (flipped === -1 ? stream.messages.length : flipped) : stream.messages.length
  return {
    mutation: flipped === -1 && mutation === 'flip' ? 'flip (nothing to flip)' : mutation,
    answer: stream.answer,
    writes: writes.filter((chunk) => chunk.length > 0),
    endAfter: mutation === 'truncate' ? TRUNCATED_ENDS[random.int(TRUNCATED_ENDS.length)] : null,
    withHandshake: random.next() < 0.25,
    expected: stream.messages.slice(0, intactUntil),
  }
}

/**
 * The fuzz server: for the client at path `/<index>` it answers the
 * handshake with that stream's extension, writes its bytes a piece per turn
 * of the event loop (the first piece with the 101 when the plan says so),
 * ends TCP after a truncated stream as the plan says, and otherwise once the
 * client's Close has come (RFC 6455 §7.1.1: the server closes TCP first).
 * `closes` records each client's Close code by index.
 */
async function fuzzServer(t, streams) {
  const closes = new Map()
  const server = await rawServerFor(t, async (socket) => {
    const request = await readRequest(socket).catch(() => null)
    if (request === null) return
    const index = Number(request.path.slice(1))
    const plan = damagedStream(streams, index)
    const head = handshakeResponse(request, { extraHeaders: [`Sec-WebSocket-Extensions: ${plan.answer}`] })
    const writes = [...plan.writes]
    socket.write(plan.withHandshake && writes.length > 0 ? Buffer.concat([head, writes.shift()]) : head)
    readFrames(socket, {
      keep: false,
      onFrame: (frame) => {
        if (frame.opcode !== OPCODE.CLOSE) return
        closes.set(index, frame.payload.length >= 2 ? frame.payload.readUInt16BE(0) : null)
        socket.end()
      },
    })
    for (const chunk of writes) {
      if (socket.destroyed) return
      socket.write(chunk)
      await new Promise((resolve) => setImmediate(resolve))
    }
    if (plan.endAfter === 'fin') socket.end()
    if (plan.endAfter === 'reset') socket.resetAndDestroy()
  })
  return { ...server, closes }
}

/** Reads until the readable ends or errors; resolves what was read as Buffers with their kind. */
async function readAll(readable) {
  const received = []
  const reader = readable.getReader()
  try {
    for (;;) {
      const { value, done } = await reader.read()
      if (done) return received
      received.push(
        typeof value === 'string'
          ? { opcode: OPCODE.TEXT, data: Buffer.from(value) }
          : { opcode: OPCODE.BINARY, data: Buffer.from(value) },
      )
    }
  } catch {
    return received
  }
}

/** One fuzz connection; resolves { index, mutation, outcome, settleMs, problems[] }. */
async function fuzzConnection(url, streams, index) {
  const plan = damagedStream(streams, index)
  const problems = []
  // 8 MiB: a flipped bit may make a small payload inflate to a great deal.
  const wss = new WebSocketStream(`${url}${index}`, { maxMessageSize: 8 * MiB })
  const opened = await settlement(wss.opened, 10_000, `connection ${index}: opened`)
  if (opened.status !== 'fulfilled') {
    problems.push(`opened ${opened.status}: ${opened.reason?.message}`)
    return { index, mutation: plan.mutation, outcome: 'not opened', settleMs: 0, problems }
  }
  const since = performance.now()
  const reading = readAll(opened.value.readable)
  const closed = await settlement(wss.closed, SETTLE_LIMIT_MS, `connection ${index}: closed`, since).catch(() => ({
    status: 'pending',
    ms: SETTLE_LIMIT_MS,
  }))
  if (closed.status === 'pending') {
    problems.push(`closed still pending after ${SETTLE_LIMIT_MS} ms`)
    wss.close()
  }
  const received = await withTimeout(reading, 2000, 'the readable to end').catch(() => {
    problems.push('the readable did not end with the connection')
    return []
  })
  if (closed.status === 'rejected' && !(closed.reason instanceof WebSocketError && closed.reason.closeCode === 1006)) {
    problems.push(`closed rejected with ${closed.reason}`)
  }
  const intact = plan.expected.filter(
    (message, i) =>
      received[i] !== undefined && received[i].opcode === message.opcode && received[i].data.equals(message.data),
  ).length
  if (plan.mutation === 'split') {
    if (closed.status !== 'fulfilled' || closed.value.closeCode !== 1000) {
      problems.push(`a valid stream did not close cleanly: ${closed.status} ${closed.reason?.message ?? ''}`)
    }
    if (received.length !== plan.expected.length || intact !== plan.expected.length) {
      problems.push(`a valid stream: ${intact} of ${plan.expected.length} messages intact, ${received.length} read`)
    }
  } else if (intact < Math.min(received.length, plan.expected.length)) {
    problems.push(`a message before the damage arrived altered (${intact} intact of ${received.length} read)`)
  }
  if (plan.mutation === 'truncate' && closed.status !== 'rejected') problems.push('a cut stream closed cleanly')
  const outcome = closed.status === 'fulfilled' ? `clean ${closed.value.closeCode}` : closed.status
  return { index, mutation: plan.mutation, outcome, settleMs: closed.ms, problems }
}

// Serial, like the flood below: each measures this process's RSS.
test.serial(
  'fuzz: damaged compressed streams end every connection within the close timeout, with memory bounded',
  async (t) => {
    console.log(`[deflate-fuzz] seed ${SEED} (WEBSOCKETSTREAM_FUZZ_SEED=${SEED} replays it)`)
    t.log(`seed ${SEED}`)
    const streams = baseStreams(24)
    const server = await fuzzServer(t, streams)
    const rssBefore = process.memoryUsage().rss
    let rssPeak = rssBefore
    const sampler = setInterval(() => {
      rssPeak = Math.max(rssPeak, process.memoryUsage().rss)
    }, 50)
    const results = []
    const started = performance.now()
    let next = 0
    const worker = async () => {
      while (next < CONNECTIONS && performance.now() - started < TIME_BUDGET_MS) {
        results.push(await fuzzConnection(server.url, streams, next++))
      }
    }
    try {
      await Promise.all(Array.from({ length: CONCURRENCY }, worker))
    } finally {
      clearInterval(sampler)
    }
    const rssAfter = process.memoryUsage().rss
    const failed = results.filter((result) => result.problems.length > 0)
    const longest = results.reduce((max, result) => (result.settleMs > max.settleMs ? result : max), results[0])
    const tally = {}
    for (const result of results) {
      const key = `${result.mutation} → ${result.outcome}`
      tally[key] = (tally[key] ?? 0) + 1
    }
    // A Close the client wrote just before dropping TCP may be lost with the
    // reset: "none seen" is not a failure.
    const clientCloses = { 'none seen': results.length - server.closes.size }
    for (const code of server.closes.values()) clientCloses[code] = (clientCloses[code] ?? 0) + 1
    const figures =
      `${results.length} connections in ${ms(performance.now() - started)}, seed ${SEED}; ` +
      `longest settle ${ms(longest.settleMs)} (connection ${longest.index}, ${longest.mutation}); ` +
      `RSS ${mib(rssBefore)} before, ${mib(rssPeak)} peak, ${mib(rssAfter)} after`
    console.log(`[deflate-fuzz] ${figures}`)
    t.log(figures)
    t.log(`outcomes: ${JSON.stringify(tally)}`)
    t.log(`the client's Close codes: ${JSON.stringify(clientCloses)}`)
    for (const result of failed.slice(0, 10)) {
      t.log(`connection ${result.index} (${result.mutation}, replay with seed ${SEED}): ${result.problems.join('; ')}`)
    }
    t.is(failed.length, 0, `${failed.length} connections misbehaved`)
    t.true(results.length >= 1000, `${results.length} connections within ${TIME_BUDGET_MS} ms`)
    t.true(longest.settleMs < SETTLE_LIMIT_MS, `closed settled within ${ms(longest.settleMs)}`)
    t.true(rssPeak - rssBefore < 256 * MiB, `RSS peaked ${mib(rssPeak - rssBefore)} above the start`)
  },
)

// 4096 messages of 64 KiB (256 MiB inflated), each zeros after its sequence
// number, compress to about 100 bytes each: the whole flood fits in the
// kernel's socket buffers, so TCP never stops the server. Only inflating no
// further ahead than the reader (README "Compression") keeps the client's
// memory to its 1 MiB inbound queue, where inflating on arrival would hold
// 256 MiB.
test.serial(
  'flood: 256 MiB of compressed messages to a client that does not read are not inflated ahead of it',
  async (t) => {
    const COUNT = 4096
    const SIZE = 64 << 10
    const messageFor = (i) => {
      const message = Buffer.alloc(SIZE)
      message.writeUInt32BE(i, 0)
      return message
    }
    const deflate = messageDeflater()
    const flood = Buffer.concat(
      Array.from({ length: COUNT }, (_, i) => messageFrames(OPCODE.BINARY, deflate(messageFor(i)))[0]),
    )
    t.log(`${COUNT} messages, ${mib(COUNT * SIZE)} inflated, ${mib(flood.length)} on the wire`)

    const server = await startRawWebSocketServer(t, {
      handshake: { extraHeaders: ['Sec-WebSocket-Extensions: permessage-deflate'] },
    })
    const rssBefore = process.memoryUsage().rss
    let rssPeak = rssBefore
    const sampler = setInterval(() => {
      rssPeak = Math.max(rssPeak, process.memoryUsage().rss)
    }, 10)
    const wss = new WebSocketStream(server.url)
    t.teardown(() => {
      clearInterval(sampler)
      try {
        wss.close()
      } catch {}
    })
    const { socket, frames } = await server.connection()
    const { readable } = await withTimeout(wss.opened, 10_000, 'opened')
    const written = new Promise((resolve) => socket.write(flood, resolve))
    await withTimeout(written, 10_000, 'the kernel to take the whole flood')
    // The client has had the whole flood in its socket for this long, unread.
    await new Promise((resolve) => setTimeout(resolve, 2000))
    const unreadPeak = rssPeak
    t.log(`RSS ${mib(rssBefore)} before, ${mib(unreadPeak)} peak while nothing was read`)
    t.true(unreadPeak - rssBefore < 48 * MiB, `RSS grew ${mib(unreadPeak - rssBefore)} while nothing was read`)

    const reader = readable.getReader()
    let inOrder = 0
    for (let i = 0; i < COUNT; i++) {
      const { value } = await withTimeout(reader.read(), 10_000, `message ${i}`)
      if (Buffer.from(value.buffer, value.byteOffset, value.byteLength).equals(messageFor(i))) inOrder++
    }
    clearInterval(sampler)
    t.is(inOrder, COUNT, 'every message arrived intact and in order once read')
    socket.write(closeFrame(1000))
    const sent = await frames.closeFrame()
    t.is(sent.code, 1000)
    socket.end()
    t.deepEqual(await withTimeout(wss.closed, 10_000, 'closed'), { closeCode: 1000, reason: '' })
  },
)
