// The scenarios for the event-based clients (ws, undici's WebSocket): both run
// this very code through a small adapter that speaks their API the way its
// documentation shows it. What an application must add to an event API to
// read at its own pace (a queue) is in MessageQueue.

import {
  MessageQueue,
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

/**
 * @typedef {object} EventClient
 * @property {(url: string, options?: { deflate?: boolean }) => any} connect starts connecting,
 *   returns the socket; `deflate`: offer permessage-deflate (the deflate scenarios ask for it)
 * @property {(ws: any) => Promise<void>} opened the open event (rejects on a failure first)
 * @property {(ws: any) => Promise<{ code: number, reason: string }>} closed the close event
 * @property {(ws: any, handler: (message: string | ArrayBuffer | Uint8Array) => void) => void} onMessage
 *   text arrives as a string, as an application wants it
 * @property {(ws: any, payload: string | Uint8Array) => Promise<void> | undefined} send with
 *   flow control: a promise when the application has to wait before sending more
 */

/** @param {EventClient} client */
export function eventScenarios(client) {
  /** An open socket and a promise of its close event. */
  async function open(url, options) {
    const ws = client.connect(url, options)
    const closed = client.closed(ws)
    await client.opened(ws)
    return { ws, closed }
  }

  /** The scale scenarios' connections (CountingClient in common.mjs). */
  const countingClient = {
    async connectAndClose(url) {
      const { ws, closed } = await open(url)
      ws.close(1000)
      await closed
    },
    async openCounting(url, onMessage = () => {}) {
      const { ws, closed } = await open(url)
      let messages = 0
      client.onMessage(ws, () => {
        messages++
        onMessage()
      })
      return { received: closed.then(() => messages) }
    },
  }

  /**
   * Counts a flood from the server, timed from the open event to the last
   * message; resolves at the server's Close, with its reason.
   */
  async function countFlood(scenario, url, options) {
    const ws = client.connect(url, options)
    const closed = client.closed(ws)
    let watch = null
    let timing = null
    let messages = 0
    let bytes = 0
    let last
    client.opened(ws).then(
      () => {
        watch = stopwatch()
      },
      () => {},
    )
    client.onMessage(ws, (message) => {
      messages++
      bytes += messageLength(message)
      last = message
      if (messages === scenario.count) timing = watch.stop()
    })
    const { reason } = await closed
    checkFlood(scenario, messages, bytes, last)
    return { messages, bytes, last, timing, reason }
  }

  /**
   * Sends `payloadAt(i)` for each of the scenario's messages with flow
   * control, then closes; timed until the server's Close, whose reason it returns.
   */
  async function sendAll(scenario, url, options, payloadAt) {
    const { ws, closed } = await open(url, options)
    const watch = stopwatch()
    for (let i = 0; i < scenario.count; i++) {
      const mustWait = client.send(ws, payloadAt(i))
      if (mustWait) await mustWait
    }
    ws.close(1000)
    const { reason } = await closed
    return { reason, timing: watch.stop() }
  }

  return {
    /** A flood from the server, timed from the open event to the last message. */
    async receive(scenario, server) {
      const { messages, bytes, timing } = await countFlood(scenario, routeUrl(server, scenario))
      return { messages, bytes, ...timing }
    },

    async send(scenario, server) {
      const payload = makePayload(scenario.size, scenario.type)
      const { reason, timing } = await sendAll(scenario, routeUrl(server, scenario), undefined, () => payload)
      const bytes = scenario.count * scenario.size
      checkSinkReport(reason, scenario.count, bytes)
      return { messages: scenario.count, bytes, ...timing }
    },

    /** A flood of one compressed JSON message, timed from the open event to the last message. */
    async 'receive-deflate'(scenario, server) {
      const expected = feedMessage(scenario.size, 0)
      const flood = await countFlood(scenario, routeUrl(server, scenario), { deflate: true })
      if (flood.last !== expected) throw new Error('the last message is not the JSON the server compressed')
      return { messages: flood.messages, bytes: flood.bytes, ...flood.timing, ...deflateFloodReport(flood.reason) }
    },

    /** JSON messages (64 different ones, in turn) to the deflate sink, which checks the first ones. */
    async 'send-deflate'(scenario, server) {
      const payloads = Array.from({ length: 64 }, (_, index) => feedMessage(scenario.size, index))
      const payloadAt = (i) => payloads[i % payloads.length]
      const { reason, timing } = await sendAll(scenario, routeUrl(server, scenario), { deflate: true }, payloadAt)
      const report = checkDeflateSinkReport(reason, scenario.count, payloadAt)
      return { messages: scenario.count, bytes: scenario.count * scenario.size, ...timing, ...report }
    },

    async echo(scenario, server) {
      const { ws, closed } = await open(routeUrl(server, scenario))
      const payload = makePayload(scenario.size, scenario.type)
      let onReply = null
      client.onMessage(ws, (message) => onReply(message))
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

    /** Reads one message every intervalMs: the application queues what the events deliver. */
    async 'slow-consumer'(scenario, server) {
      const queue = new MessageQueue()
      const ws = client.connect(routeUrl(server, scenario))
      client.onMessage(ws, (message) => queue.push(message))
      const closed = client.closed(ws)
      const end = () => queue.end()
      closed.then(end, end)
      await client.opened(ws)
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
      return timeConnectCloseCycles(scenario.count, () => countingClient.connectAndClose(url))
    },

    async concurrent(scenario, server) {
      const url = routeUrl(server, scenario)
      const openIdle = async () => {
        const connection = await open(url)
        client.onMessage(connection.ws, () => {})
        return connection
      }
      const close = async ({ ws, closed }) => {
        ws.close(1000)
        await closed
      }
      return measureRssPerConnection(scenario.count, openIdle, close)
    },

    'scale-broadcast': (scenario, server) => measureBroadcast(scenario, server, countingClient),

    'busy-flood': (scenario) => measureBusyFlood(scenario, countingClient),
  }
}
