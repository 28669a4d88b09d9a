// undici's WebSocket (the WHATWG WebSocket API; Node 22+ ships it as the
// global WebSocket). binaryType 'arraybuffer': the default, Blob, would be far
// slower and is not what a Node application asks for. The API has no send
// callback, so sending waits while bufferedAmount is high, as browser code does.

import { WebSocket } from 'undici'
import {
  MessageQueue,
  checkFlood,
  checkSinkReport,
  currentRss,
  latencyStats,
  main,
  makePayload,
  messageLength,
  peakRss,
  routeUrl,
  runLimited,
  settleMemory,
  sleep,
  stopwatch,
  warmupRounds,
} from './common.mjs'
import { HANDSHAKES_IN_FLIGHT } from './stream-scenarios.mjs'

/** Flow control for sends: above this many buffered bytes, wait for the socket. */
const SEND_HIGH_WATER = 1 << 20

function connect(url) {
  const ws = new WebSocket(url)
  ws.binaryType = 'arraybuffer'
  return ws
}

/** An open socket and a promise of its close event `{ code, reason }`. */
async function open(url) {
  const ws = connect(url)
  const closed = new Promise((resolve) => {
    ws.addEventListener('close', ({ code, reason }) => resolve({ code, reason }), { once: true })
  })
  await new Promise((resolve, reject) => {
    ws.addEventListener('open', resolve, { once: true })
    ws.addEventListener('error', () => reject(new Error(`cannot connect to ${url}`)), { once: true })
  })
  return { ws, closed }
}

const nextTurn = () => new Promise((resolve) => setImmediate(resolve))

await main({
  async receive(scenario, server) {
    const ws = connect(routeUrl(server, scenario))
    let watch = null
    let timing = null
    let messages = 0
    let bytes = 0
    let last
    ws.addEventListener('open', () => {
      watch = stopwatch()
    })
    ws.addEventListener('message', ({ data }) => {
      messages++
      bytes += messageLength(data)
      last = data
      if (messages === scenario.count) timing = watch.stop()
    })
    await new Promise((resolve, reject) => {
      ws.addEventListener('close', resolve)
      ws.addEventListener('error', () => reject(new Error('the connection failed')))
    })
    checkFlood(scenario, messages, bytes, last)
    return { messages, bytes, ...timing }
  },

  async send(scenario, server) {
    const { ws, closed } = await open(routeUrl(server, scenario))
    const payload = makePayload(scenario.size, scenario.type)
    const watch = stopwatch()
    for (let i = 0; i < scenario.count; i++) {
      while (ws.bufferedAmount >= SEND_HIGH_WATER) await nextTurn()
      ws.send(payload)
    }
    ws.close(1000)
    const { reason } = await closed
    const timing = watch.stop()
    const bytes = scenario.count * scenario.size
    checkSinkReport(reason, scenario.count, bytes)
    return { messages: scenario.count, bytes, ...timing }
  },

  async echo(scenario, server) {
    const { ws, closed } = await open(routeUrl(server, scenario))
    const payload = makePayload(scenario.size, scenario.type)
    let onReply = null
    ws.addEventListener('message', ({ data }) => onReply(data))
    const warmup = warmupRounds(scenario.count)
    const latencies = new Float64Array(scenario.count)
    let watch = stopwatch()
    for (let i = -warmup; i < scenario.count; i++) {
      if (i === 0) watch = stopwatch()
      const sent = performance.now()
      const reply = new Promise((resolve) => {
        onReply = resolve
      })
      ws.send(payload)
      const message = await reply
      if (i >= 0) latencies[i] = performance.now() - sent
      if (messageLength(message) !== scenario.size) throw new Error('the echo did not come back')
    }
    const timing = watch.stop()
    ws.close(1000)
    await closed
    return { messages: scenario.count, bytes: scenario.count * scenario.size, ...timing, ...latencyStats(latencies) }
  },

  async 'slow-consumer'(scenario, server) {
    const queue = new MessageQueue()
    const { ws, closed } = await open(routeUrl(server, scenario))
    ws.addEventListener('message', ({ data }) => queue.push(data))
    ws.addEventListener('close', () => queue.end())
    const start = performance.now()
    const watch = stopwatch()
    let messages = 0
    while (performance.now() - start < scenario.durationMs) {
      const { done } = await queue.read()
      if (done) break
      messages++
      await sleep(scenario.intervalMs)
    }
    const timing = watch.stop()
    const peakWhileReadingBytes = peakRss()
    ws.close(1000)
    await closed
    return { messages, bytes: messages * scenario.size, ...timing, peakWhileReadingBytes }
  },

  async 'connect-close'(scenario, server) {
    const url = routeUrl(server, scenario)
    const latencies = new Float64Array(scenario.count)
    const watch = stopwatch()
    for (let i = 0; i < scenario.count; i++) {
      const begun = performance.now()
      const { ws, closed } = await open(url)
      ws.close(1000)
      await closed
      latencies[i] = performance.now() - begun
    }
    return { messages: scenario.count, ...watch.stop(), ...latencyStats(latencies) }
  },

  async concurrent(scenario, server) {
    const url = routeUrl(server, scenario)
    const openIdle = async () => {
      const connection = await open(url)
      connection.ws.addEventListener('message', () => {})
      return connection
    }
    // One connection first, so one-time costs (loading the client, compiled
    // code) are not counted per connection.
    const first = await openIdle()
    first.ws.close(1000)
    await first.closed
    // RSS per connection is the slope between half and all of them: fixed
    // costs and the heap's first growth cancel out.
    const half = scenario.count >> 1
    const watch = stopwatch()
    const connections = await runLimited(half, HANDSHAKES_IN_FLIGHT, openIdle)
    await settleMemory()
    const atHalf = currentRss()
    connections.push(...(await runLimited(scenario.count - half, HANDSHAKES_IN_FLIGHT, openIdle)))
    const timing = watch.stop()
    await settleMemory()
    const rssPerConnectionBytes = (currentRss() - atHalf) / (scenario.count - half)
    for (const { ws } of connections) ws.close(1000)
    await Promise.all(connections.map(({ closed }) => closed))
    return { messages: scenario.count, ...timing, rssPerConnectionBytes }
  },
})
