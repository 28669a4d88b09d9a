// The scenarios for every stream-based client: websocketstream, undici's
// WebSocketStream and the in-memory ceiling all run this very code, so they
// differ only in what is behind `new WebSocketStream(url)`. Reading is one
// `reader.read()` per message; writing waits on `writer.ready` before each
// write, as the streams API intends for backpressure.

import {
  checkDeflateSinkReport,
  checkFlood,
  checkSinkReport,
  deflateFloodReport,
  feedMessage,
  latencyStats,
  makePayload,
  measureBroadcast,
  measureBusyFlood,
  measureRssPerConnection,
  messageLength,
  peakRss,
  routeUrl,
  sleep,
  stopwatch,
  timeConnectCloseCycles,
  warmupRounds,
} from './common.mjs'

function noop() {}

/** @param {typeof globalThis.WebSocketStream} WebSocketStream a class with the draft's API */
export function streamScenarios(WebSocketStream) {
  /**
   * Reads a flood from the server, timed from `opened` to the last message;
   * resolves once the server's Close followed it, with its reason.
   */
  async function countFlood(scenario, url) {
    const wss = new WebSocketStream(url)
    const { readable } = await wss.opened
    const reader = readable.getReader()
    const watch = stopwatch()
    let messages = 0
    let bytes = 0
    let last
    while (messages < scenario.count) {
      const { value, done } = await reader.read()
      if (done) break
      messages++
      bytes += messageLength(value)
      last = value
    }
    const timing = watch.stop()
    checkFlood(scenario, messages, bytes, last)
    // The server's Close follows the last message.
    if (!(await reader.read()).done) throw new Error('more messages than the server sent')
    const { reason } = await wss.closed
    return { messages, bytes, last, timing, reason }
  }

  /**
   * Writes `payloadAt(i)` for each of the scenario's messages as
   * `writer.ready` allows, then closes; timed until the sink's Close, whose
   * reason it returns.
   */
  async function sendAll(scenario, url, payloadAt) {
    const wss = new WebSocketStream(url)
    const { writable } = await wss.opened
    const writer = writable.getWriter()
    let failure = null
    const watch = stopwatch()
    for (let i = 0; i < scenario.count; i++) {
      await writer.ready
      writer.write(payloadAt(i)).catch((error) => {
        failure ??= error
      })
    }
    await writer.close()
    const { reason } = await wss.closed
    const timing = watch.stop()
    if (failure) throw failure
    return { reason, timing }
  }

  /** The scale scenarios' connections (CountingClient in common.mjs). */
  const countingClient = {
    async connectAndClose(url) {
      const wss = new WebSocketStream(url)
      await wss.opened
      wss.close({ closeCode: 1000 })
      await wss.closed
    },
    async openCounting(url, onMessage = noop) {
      const wss = new WebSocketStream(url)
      const { readable } = await wss.opened
      const reader = readable.getReader()
      const counting = async () => {
        let messages = 0
        while (!(await reader.read()).done) {
          messages++
          onMessage()
        }
        await wss.closed
        return messages
      }
      return { received: counting() }
    },
  }

  return {
    /** A flood from the server, timed from `opened` to the last message. */
    async receive(scenario, server) {
      const { messages, bytes, timing } = await countFlood(scenario, routeUrl(server, scenario))
      return { messages, bytes, ...timing }
    },

    /** Messages to the sink, timed until the sink's Close confirmed it counted them all. */
    async send(scenario, server) {
      const payload = makePayload(scenario.size, scenario.type)
      const { reason, timing } = await sendAll(scenario, routeUrl(server, scenario), () => payload)
      const bytes = scenario.count * scenario.size
      checkSinkReport(reason, scenario.count, bytes)
      return { messages: scenario.count, bytes, ...timing }
    },

    /**
     * A flood of one compressed JSON message (permessage-deflate), timed from
     * `opened` to the last message; the last must be exactly the JSON sent.
     */
    async 'receive-deflate'(scenario, server) {
      const expected = feedMessage(scenario.size, 0)
      const flood = await countFlood(scenario, routeUrl(server, scenario))
      if (flood.last !== expected) throw new Error('the last message is not the JSON the server compressed')
      return { messages: flood.messages, bytes: flood.bytes, ...flood.timing, ...deflateFloodReport(flood.reason) }
    },

    /**
     * JSON messages (64 different ones, in turn) to the deflate sink, which
     * counts what crossed the socket and checks that the first ones inflate
     * to what was written; timed until its Close.
     */
    async 'send-deflate'(scenario, server) {
      const payloads = Array.from({ length: 64 }, (_, index) => feedMessage(scenario.size, index))
      const payloadAt = (i) => payloads[i % payloads.length]
      const { reason, timing } = await sendAll(scenario, routeUrl(server, scenario), payloadAt)
      const report = checkDeflateSinkReport(reason, scenario.count, payloadAt)
      return { messages: scenario.count, bytes: scenario.count * scenario.size, ...timing, ...report }
    },

    /** Sequential round trips: write one message, read its echo. */
    async echo(scenario, server) {
      const wss = new WebSocketStream(routeUrl(server, scenario))
      const { readable, writable } = await wss.opened
      const reader = readable.getReader()
      const writer = writable.getWriter()
      const payload = makePayload(scenario.size, scenario.type)
      const warmup = warmupRounds(scenario.count)
      const latencies = new Float64Array(scenario.count)
      let watch = stopwatch()
      for (let i = -warmup; i < scenario.count; i++) {
        if (i === 0) watch = stopwatch()
        const sent = performance.now()
        const written = writer.write(payload)
        const { value, done } = await reader.read()
        await written
        if (i >= 0) latencies[i] = performance.now() - sent
        if (done || messageLength(value) !== scenario.size) throw new Error('the echo did not come back')
      }
      const timing = watch.stop()
      wss.close({ closeCode: 1000 })
      await wss.closed
      return { messages: scenario.count, bytes: scenario.count * scenario.size, ...timing, ...latencyStats(latencies) }
    },

    /** The server offers far more than is read; one message every few ms. */
    async 'slow-consumer'(scenario, server) {
      const wss = new WebSocketStream(routeUrl(server, scenario))
      const { readable } = await wss.opened
      const reader = readable.getReader()
      const start = performance.now()
      const watch = stopwatch()
      let messages = 0
      while (performance.now() - start < scenario.durationMs) {
        const { done } = await reader.read()
        if (done) break
        messages++
        await sleep(scenario.intervalMs)
      }
      const timing = watch.stop()
      const peakWhileReadingBytes = peakRss()
      wss.close({ closeCode: 1000 })
      await wss.closed.catch(noop)
      return { messages, bytes: messages * scenario.size, ...timing, peakWhileReadingBytes }
    },

    /** Sequential connect, open, close, closed. */
    async 'connect-close'(scenario, server) {
      const url = routeUrl(server, scenario)
      return timeConnectCloseCycles(scenario.count, () => countingClient.connectAndClose(url))
    },

    /** Many open connections, each with a read pending as an application's would be. */
    async concurrent(scenario, server) {
      const url = routeUrl(server, scenario)
      const open = async () => {
        const wss = new WebSocketStream(url)
        const { readable } = await wss.opened
        const pendingRead = readable.getReader().read()
        return { wss, pendingRead }
      }
      const close = async ({ wss, pendingRead }) => {
        wss.close({ closeCode: 1000 })
        await Promise.all([wss.closed, pendingRead])
      }
      return measureRssPerConnection(scenario.count, open, close)
    },

    /** Thousands of connections, each with a read pending; then a broadcast to all of them. */
    'scale-broadcast': (scenario, server) => measureBroadcast(scenario, server, countingClient),

    /** Many connections flooded at once: the aggregate rate and how evenly it is shared. */
    'busy-flood': (scenario) => measureBusyFlood(scenario, countingClient),
  }
}
