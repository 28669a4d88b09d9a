// What every client process shares: reading its job, making payloads,
// measuring memory and time, and reporting one result line to bench/run.mjs.
//
// A client runs exactly one scenario once, in its own process, so that peak
// RSS (VmHWM) belongs to that scenario alone.

import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'

export { sleep }

/** The job run.mjs passed as the only argument: `{ scenario, server }`. */
export function readJob() {
  const job = JSON.parse(process.argv[2])
  return { scenario: job.scenario, server: job.server }
}

/** The URL of a load-server route (see bench/load-server/src/main.rs). */
export function routeUrl(server, scenario) {
  switch (scenario.kind) {
    case 'receive':
    case 'slow-consumer':
      return `${server}/flood?count=${scenario.count}&size=${scenario.size}&type=${scenario.type}`
    case 'send':
      return `${server}/sink`
    // The deflate routes negotiate permessage-deflate; the flood sends the
    // very message the client will expect, compressed once by the server.
    case 'receive-deflate':
      return `${server}/deflate/flood?count=${scenario.count}&message=${encodeURIComponent(feedMessage(scenario.size, 0))}`
    case 'send-deflate':
      return `${server}/deflate/sink`
    default:
      return `${server}/echo`
  }
}

/** One message of `size` bytes: a string for text, a Uint8Array for binary. */
export function makePayload(size, type) {
  return type === 'text' ? 'x'.repeat(size) : new Uint8Array(size).fill(0x78)
}

/**
 * A market-data message as an exchange feed sends it: JSON text of exactly
 * `size` bytes (ASCII), a batch of trades whose keys repeat and whose prices,
 * sizes and times vary, then order-book levels, from a generator seeded with
 * `index`. The same arguments always give the same message; a hex `nonce`
 * (under 26 characters) pads it to `size`.
 */
export function feedMessage(size, index) {
  const random = mulberry32(0x5eed + index)
  const start = Date.UTC(2026, 10, 23, 11, 33, 7) + index * 250
  const message = {
    type: 'trades',
    product_id: 'BTC-USD',
    sequence: 48_151_623_420 + index * 16,
    time: new Date(start).toISOString(),
    trades: [],
    bids: [],
    nonce: '',
  }
  let length = JSON.stringify(message).length
  for (let k = 0; ; k++) {
    const trade = {
      trade_id: 731_000_000 + index * 16 + k,
      side: random() < 0.5 ? 'buy' : 'sell',
      price: (43_000 + random() * 500).toFixed(2),
      size: (random() * 2).toFixed(8),
      time: new Date(start - Math.floor(random() * 250)).toISOString(),
    }
    const added = JSON.stringify(trade).length + (k > 0 ? 1 : 0)
    if (length + added > size) break
    message.trades.push(trade)
    length += added
  }
  // Then order-book levels, [price, size], while they fit (26 bytes each).
  for (let k = 0; ; k++) {
    const level = [(42_900 - k * 0.5 - random()).toFixed(2), (random() * 2).toFixed(8)]
    const added = JSON.stringify(level).length + (k > 0 ? 1 : 0)
    if (length + added > size) break
    message.bids.push(level)
    length += added
  }
  if (length > size) throw new Error(`a feed message cannot be as small as ${size} bytes`)
  message.nonce = Array.from({ length: size - length }, () => Math.floor(random() * 16).toString(16)).join('')
  return JSON.stringify(message)
}

/** A small seeded PRNG (mulberry32): floats in [0, 1), the same sequence for the same seed. */
function mulberry32(seed) {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = Math.imul(state ^ (state >>> 15), state | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** FNV-1a (32 bits) over an ASCII string's bytes, continued from `hash`; the deflate sink computes the same. */
export function fnv1a(text, hash = 0x811c9dc5) {
  let h = hash
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0
  return h
}

/** How many first messages the deflate sink inflates and hashes (CHECKED_MESSAGES in bench/load-server/src/sink.rs). */
const DEFLATE_CHECKED_MESSAGES = 64

/**
 * The deflate flood's Close reason is the compressed payload's length in
 * bytes (bench/load-server/src/flood.rs): the bytes per message on the wire.
 */
export function deflateFloodReport(reason) {
  const wireBytesPerMessage = Number(reason)
  if (!(wireBytesPerMessage > 0)) throw new Error(`the deflate flood closed with "${reason}", not its frame size`)
  return { wireBytesPerMessage }
}

/**
 * Checks the deflate sink's Close reason, "<messages> <wire bytes> <compressed
 * messages> <checked> <checksum>" (bench/load-server/src/sink.rs): every
 * message arrived and the first ones inflate to exactly what was sent
 * (`sent(i)` is the i-th message). Returns the wire bytes per message and
 * the share of messages sent compressed.
 */
export function checkDeflateSinkReport(reason, count, sent) {
  const [messages, wireBytes, compressed, checked, checksum] = reason.split(' ')
  const expectedChecked = Math.min(count, DEFLATE_CHECKED_MESSAGES)
  let expectedChecksum = 0x811c9dc5
  for (let i = 0; i < expectedChecked; i++) expectedChecksum = fnv1a(sent(i), expectedChecksum)
  const expected = expectedChecksum.toString(16).padStart(8, '0')
  if (Number(messages) !== count || Number(checked) !== expectedChecked || checksum !== expected) {
    throw new Error(
      `the deflate sink reported "${reason}": expected ${count} messages, the first ${expectedChecked} hashing to ${expected}`,
    )
  }
  return { wireBytesPerMessage: Number(wireBytes) / count, compressedShare: Number(compressed) / count }
}

/** The byte length of a received message (string, Buffer, Uint8Array or ArrayBuffer). */
export function messageLength(message) {
  // Only ASCII is sent, so a string's length is its UTF-8 byte length.
  return typeof message === 'string' ? message.length : message.byteLength
}

/** Bytes from /proc/self/status: VmHWM is the exact peak RSS, VmRSS the current one. */
function procStatus(field) {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync('/proc/self/status', 'utf8'))
  return match ? Number(match[1]) * 1024 : null
}

export const peakRss = () => procStatus('VmHWM')
export const currentRss = () => procStatus('VmRSS')

/** Collects garbage if the process runs with --expose-gc (run.mjs passes it). */
export async function settleMemory() {
  if (globalThis.gc) {
    globalThis.gc()
    await sleep(50)
    globalThis.gc()
  }
  await sleep(100)
}

/** Median and 99th percentile of latencies in milliseconds, reported in microseconds. */
export function latencyStats(millis) {
  const sorted = Float64Array.from(millis).sort()
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] * 1000
  return { latencyMedianUs: at(0.5), latencyP99Us: at(0.99) }
}

/** The sink's Close reason is "<messages> <bytes>" (bench/load-server/src/sink.rs). */
export function checkSinkReport(reason, messages, bytes) {
  const expected = `${messages} ${bytes}`
  if (reason !== expected) throw new Error(`the sink counted "${reason}", the client sent "${expected}"`)
}

/**
 * Prints the result line run.mjs looks for and lets the process end by itself.
 * A client that does not end within 3 s has something left holding the event
 * loop (an unclosed connection, say): that is reported on stderr, then it exits.
 */
export function report(result) {
  const line = { ...result, peakRssBytes: peakRss() }
  process.stdout.write(`RESULT ${JSON.stringify(line)}\n`)
  setTimeout(() => {
    process.stderr.write('LINGER: the process was still alive 3 s after its scenario ended\n')
    process.exit(0)
  }, 3000).unref()
}

/** Runs a client's scenario function and turns a failure into a clear exit. */
export async function main(scenarios) {
  try {
    const { scenario, server } = readJob()
    const run = scenarios[scenario.kind]
    if (!run) throw new Error(`this client has no scenario of kind ${scenario.kind}`)
    if (scenario.fileDescriptors) checkOpenFileLimit(scenario.fileDescriptors)
    // run.mjs kills a client past its budget; this covers a run.mjs that died.
    setTimeout(
      () => {
        process.stderr.write('ERROR: over budget, exiting on its own\n')
        process.exit(124)
      },
      (scenario.budgetSeconds + 5) * 1000,
    ).unref()
    report(await run(scenario, server))
  } catch (error) {
    process.stderr.write(`ERROR: ${error?.stack ?? error}\n`)
    process.exit(1)
  }
}

/** Runs `task(index)` for 0..count-1 with at most `limit` in flight; resolves to the results in order. */
export async function runLimited(count, limit, task) {
  const results = new Array(count)
  let next = 0
  async function lane() {
    while (next < count) {
      const index = next++
      results[index] = await task(index)
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, count) }, lane))
  return results
}

/**
 * Handshakes in flight at once in the scenarios that open many connections
 * (all clients alike): well under the servers' listen backlog (4096, capped
 * by net.core.somaxconn), so no SYN is dropped and retried a second later.
 */
const HANDSHAKES_IN_FLIGHT = 100

/**
 * The connect-close scenario: `cycle()` connects, waits for the open, closes
 * and waits for the close; each cycle's time is a latency sample.
 */
export async function timeConnectCloseCycles(count, cycle) {
  const latencies = new Float64Array(count)
  const watch = stopwatch()
  for (let i = 0; i < count; i++) {
    const begun = performance.now()
    await cycle()
    latencies[i] = performance.now() - begun
  }
  return { messages: count, ...watch.stop(), ...latencyStats(latencies) }
}

/**
 * The concurrent scenario: opens `count` connections with `open()` (a
 * connection as the application would hold it idle) and measures the RSS each
 * adds; `close(connection)` closes one and waits until it is closed.
 */
export async function measureRssPerConnection(count, open, close) {
  // One connection first, so one-time costs (loading the client, its
  // runtime, compiled code) are not counted per connection.
  await close(await open())
  // RSS per connection is the slope between half and all of them: fixed
  // costs and the heap's first growth cancel out.
  const half = count >> 1
  const watch = stopwatch()
  const connections = await runLimited(half, HANDSHAKES_IN_FLIGHT, open)
  await settleMemory()
  const atHalf = currentRss()
  connections.push(...(await runLimited(count - half, HANDSHAKES_IN_FLIGHT, open)))
  const timing = watch.stop()
  await settleMemory()
  const rssPerConnectionBytes = (currentRss() - atHalf) / (count - half)
  await Promise.all(connections.map(close))
  return { messages: count, ...timing, rssPerConnectionBytes }
}

/**
 * What an application of an event-based client (ws, undici's WebSocket) has
 * to write to read at its own pace: a queue the message events fill. It grows
 * without bound when the application reads slower than the server sends.
 */
export class MessageQueue {
  #items = []
  #head = 0
  #waiter = null
  #ended = false

  push(message) {
    if (this.#waiter) {
      const resolve = this.#waiter
      this.#waiter = null
      resolve({ value: message, done: false })
    } else {
      this.#items.push(message)
    }
  }

  end() {
    this.#ended = true
    this.#waiter?.({ value: undefined, done: true })
    this.#waiter = null
  }

  /** Like a stream reader's read(): the next message, or done once ended and empty. */
  read() {
    if (this.#head < this.#items.length) {
      const value = this.#items[this.#head]
      this.#items[this.#head++] = undefined
      if (this.#head === this.#items.length) {
        this.#items = []
        this.#head = 0
      }
      return Promise.resolve({ value, done: false })
    }
    if (this.#ended) return Promise.resolve({ value: undefined, done: true })
    return new Promise((resolve) => {
      this.#waiter = resolve
    })
  }
}

/** Throws unless a flood arrived whole and with the right message type. */
export function checkFlood(scenario, messages, bytes, last) {
  if (messages !== scenario.count || bytes !== scenario.count * scenario.size) {
    throw new Error(
      `expected ${scenario.count} messages (${scenario.count * scenario.size} bytes), got ${messages} (${bytes} bytes)`,
    )
  }
  const isText = typeof last === 'string'
  if (isText !== (scenario.type === 'text')) {
    throw new Error(`expected ${scenario.type} messages, got ${isText ? 'text' : 'binary'}`)
  }
}

/** Echo round trips left out of the latency figures while the JIT warms up. */
export function warmupRounds(count) {
  return Math.min(500, Math.floor(count / 10))
}

/**
 * Wall time and this process's CPU time (all threads, user + system) since
 * it was made. CPU time per message barely moves when another process shares
 * the cores, so it stays comparable on a busy machine where wall time does not.
 */
export function stopwatch() {
  const wallStart = performance.now()
  const cpuStart = process.cpuUsage()
  return {
    stop() {
      const cpu = process.cpuUsage(cpuStart)
      return { seconds: (performance.now() - wallStart) / 1000, cpuSeconds: (cpu.user + cpu.system) / 1e6 }
    },
  }
}

/** The soft and hard limits on open files (RLIMIT_NOFILE) from /proc/self/limits; Infinity for unlimited. */
function openFileLimits() {
  const match = /^Max open files\s+(\S+)\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))
  const limit = (text) => (text === 'unlimited' ? Number.POSITIVE_INFINITY : Number(text))
  return { soft: limit(match[1]), hard: limit(match[2]) }
}

/**
 * Fails at once, saying which limit, when the scenario needs more file
 * descriptors than this process may open (run-client.mjs raises the soft
 * limit up to the hard one before it starts a client; Node cannot).
 */
function checkOpenFileLimit(needed) {
  const { soft, hard } = openFileLimits()
  if (soft < needed) {
    throw new Error(
      `needs ${needed} file descriptors; this process may open ${soft} (ulimit -Sn; the hard limit is ${hard})`,
    )
  }
}

const broadcastServerScript = fileURLToPath(new URL('../broadcast-server.mjs', import.meta.url))

/**
 * Starts bench/broadcast-server.mjs in its own process (on the other core,
 * as the load server is; its file-descriptor limit is this process's).
 * `send(count, size, perWrite)` resolves once the server has handed every
 * write to the kernel, with the milliseconds that took.
 * @returns {Promise<{ url: string, send: (count: number, size: number, perWrite: number) => Promise<number>, stop: () => void }>}
 */
async function startBroadcastServer() {
  const child = spawn(process.execPath, [broadcastServerScript], { stdio: ['pipe', 'pipe', 'inherit'] })
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]()
  async function expectLine(pattern) {
    const { value, done } = await lines.next()
    const match = done ? null : pattern.exec(value)
    if (!match) throw new Error(`the broadcast server said ${JSON.stringify(value ?? 'nothing (it exited)')}`)
    return match
  }
  const [, port] = await expectLine(/^listening (\d+)$/)
  return {
    url: `ws://127.0.0.1:${port}/`,
    async send(count, size, perWrite) {
      child.stdin.write(`send ${count} ${size} ${perWrite}\n`)
      const [, milliseconds] = await expectLine(/^sent ([\d.]+)$/)
      return Number(milliseconds)
    },
    stop: () => child.stdin.end(),
  }
}

/**
 * @typedef {object} CountingClient what the scale scenarios need of a client
 * @property {(url: string) => Promise<void>} connectAndClose one connection
 *   opened and closed
 * @property {(url: string, onMessage?: () => void) => Promise<{ received: Promise<number> }>}
 *   openCounting opens a connection and reads every message as it comes
 *   (for a stream client: a `read()` always pending), calling `onMessage`
 *   for each; `received` resolves with the count once the server's Close
 *   has closed it
 */

/** RSS and V8's used heap, after a garbage collection. */
async function memoryNow() {
  await settleMemory()
  return { rss: currentRss(), heap: process.memoryUsage().heapUsed }
}

/** Throws unless every connection received exactly `count` messages. */
function checkEveryConnection(received, count) {
  const wrong = received.findIndex((messages) => messages !== count)
  if (wrong >= 0) throw new Error(`connection ${wrong} received ${received[wrong]} messages, not ${count}`)
}

/**
 * scale-10k: opens `scenario.connections` connections to the broadcast
 * server, each reading, and measures the time that took and the memory each
 * holds; then the server broadcasts `scenario.count` messages to all of them
 * (`scenario.perWrite` to every connection, then the next ones) and Close, timed until
 * every connection has counted them all and closed.
 * @param {CountingClient} client
 */
export async function measureBroadcast(scenario, server, client) {
  const broadcaster = await startBroadcastServer()
  try {
    // One connection first, so one-time costs (loading the client, starting
    // its runtime, compiling its code) are not counted per connection.
    await client.connectAndClose(`${server}/echo`)
    const before = await memoryNow()
    const opening = stopwatch()
    const connections = await runLimited(scenario.connections, HANDSHAKES_IN_FLIGHT, () =>
      client.openCounting(broadcaster.url),
    )
    const opened = opening.stop()
    const after = await memoryNow()
    const sending = stopwatch()
    const [received, serverMilliseconds] = await Promise.all([
      Promise.all(connections.map((connection) => connection.received)),
      broadcaster.send(scenario.count, scenario.size, scenario.perWrite),
    ])
    const timing = sending.stop()
    checkEveryConnection(received, scenario.count)
    const messages = scenario.connections * scenario.count
    return {
      messages,
      bytes: messages * scenario.size,
      ...timing,
      openSeconds: opened.seconds,
      openCpuSeconds: opened.cpuSeconds,
      rssPerConnectionBytes: (after.rss - before.rss) / scenario.connections,
      heapPerConnectionBytes: (after.heap - before.heap) / scenario.connections,
      serverSendSeconds: serverMilliseconds / 1000,
    }
  } finally {
    broadcaster.stop()
  }
}

/**
 * busy-1k: opens `scenario.connections` connections, then the server writes
 * every connection its whole flood of `scenario.count` messages at once. The
 * window closes when half of all the messages have arrived: the aggregate
 * rate is over that window, and fairness is how evenly it was shared, the
 * slowest connection's count over the fastest's at that moment (1 when all
 * have half of theirs). The snapshot is taken in the message callback itself,
 * because a timer would wait for the busy event loop. Then every connection
 * reads the rest of its flood and closes.
 * @param {CountingClient} client
 */
export async function measureBusyFlood(scenario, client) {
  const broadcaster = await startBroadcastServer()
  try {
    const counts = new Float64Array(scenario.connections)
    const windowEnd = (scenario.connections * scenario.count) / 2
    let total = 0
    let inWindow = null
    let window = null
    let timing = null
    const connections = await runLimited(scenario.connections, HANDSHAKES_IN_FLIGHT, (index) =>
      client.openCounting(broadcaster.url, () => {
        counts[index]++
        if (++total === windowEnd) {
          timing = window.stop()
          inWindow = Array.from(counts)
        }
      }),
    )
    window = stopwatch()
    const [received] = await Promise.all([
      Promise.all(connections.map((connection) => connection.received)),
      broadcaster.send(scenario.count, scenario.size, scenario.count),
    ])
    checkEveryConnection(received, scenario.count)
    const slowest = Math.min(...inWindow)
    const fastest = Math.max(...inWindow)
    return {
      messages: windowEnd,
      bytes: windowEnd * scenario.size,
      ...timing,
      fairness: slowest / fastest,
      slowestMessages: slowest,
      fastestMessages: fastest,
    }
  } finally {
    broadcaster.stop()
  }
}
