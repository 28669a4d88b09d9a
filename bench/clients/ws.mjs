// ws 8, the baseline: its own event API as its documentation shows it.
// Text arrives as a Buffer (ws does not decode it): an application that wants
// a string calls toString(), so this client does too.

import WebSocket from 'ws'
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

function decode(data, isBinary) {
  return isBinary ? data : data.toString()
}

/** An open socket and a promise of its close event `{ code, reason }`. */
async function open(url) {
  const ws = new WebSocket(url)
  const closed = new Promise((resolve, reject) => {
    ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() }))
    ws.once('error', reject)
  })
  await new Promise((resolve, reject) => {
    ws.once('open', resolve)
    closed.catch(reject)
  })
  return { ws, closed }
}

await main({
  async receive(scenario, server) {
    const ws = new WebSocket(routeUrl(server, scenario))
    let watch = null
    let timing = null
    let messages = 0
    let bytes = 0
    let last
    ws.on('open', () => {
      watch = stopwatch()
    })
    ws.on('message', (data, isBinary) => {
      const message = decode(data, isBinary)
      messages++
      bytes += messageLength(message)
      last = message
      if (messages === scenario.count) timing = watch.stop()
    })
    await new Promise((resolve, reject) => {
      ws.once('close', resolve)
      ws.once('error', reject)
    })
    checkFlood(scenario, messages, bytes, last)
    return { messages, bytes, ...timing }
  },

  async send(scenario, server) {
    const { ws, closed } = await open(routeUrl(server, scenario))
    const payload = makePayload(scenario.size, scenario.type)
    const watch = stopwatch()
    for (let i = 0; i < scenario.count; i++) {
      if (ws.bufferedAmount < SEND_HIGH_WATER) {
        ws.send(payload)
      } else {
        // The callback runs once this message is handed to the kernel.
        await new Promise((resolve, reject) => ws.send(payload, (error) => (error ? reject(error) : resolve())))
      }
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
    ws.on('message', (data, isBinary) => onReply(decode(data, isBinary)))
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
    const ws = new WebSocket(routeUrl(server, scenario))
    ws.on('message', (data, isBinary) => queue.push(decode(data, isBinary)))
    const closed = new Promise((resolve) => ws.once('close', resolve))
    ws.once('close', () => queue.end())
    await new Promise((resolve, reject) => {
      ws.once('open', resolve)
      ws.once('error', reject)
    })
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
      connection.ws.on('message', () => {})
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
