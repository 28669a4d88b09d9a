// Servers and clients that a spec's teardown ends, whatever state the test
// left them in.
import { setTimeout as delay } from 'node:timers/promises'
import { WebSocketStream } from '../../index.mjs'
import { startRawWebSocketServer } from './raw-server.mjs'
import { startRawServer, startWsServer } from './servers.mjs'
import { withTimeout } from './settle.mjs'

/** A `ws` server (echo unless `onConnection` is given), closed at teardown. */
export async function wsServerFor(t, onConnection, options) {
  const peer = await startWsServer(onConnection, options)
  t.teardown(() => peer.close())
  return peer
}

/** A raw TCP server, closed at teardown. */
export async function rawServerFor(t, onSocket = () => {}) {
  const peer = await startRawServer(onSocket)
  t.teardown(() => peer.close())
  return peer
}

/**
 * A `ws` echo server that records what its clients did, closed at teardown
 * (`options` go to the WebSocketServer). It keeps every upgrade request in
 * `requests` and every message received, `{data: Buffer, isBinary}`, in
 * `messages`. `nextMessage()` and `nextClose()` resolve, call after call,
 * the next message and the next connection's close `{code, reason}` as the
 * server saw them; `until(condition, ms, label)` waits for any state of
 * those lists; `send(data)` sends to the latest client.
 */
export async function recordingServer(t, options) {
  const requests = []
  const messages = []
  const closes = []
  const wakers = new Set()
  const record = (list, entry) => {
    list.push(entry)
    for (const wake of wakers) wake()
  }
  let latest = null
  const peer = await wsServerFor(
    t,
    (socket, request) => {
      latest = socket
      record(requests, request)
      socket.on('message', (data, isBinary) => {
        record(messages, { data, isBinary })
        socket.send(data, { binary: isBinary })
      })
      socket.on('close', (code, reason) => record(closes, { code, reason: reason.toString() }))
    },
    options,
  )
  const until = (condition, ms, label) =>
    withTimeout(
      new Promise((resolve) => {
        const wake = () => {
          if (!condition()) return
          wakers.delete(wake)
          resolve()
        }
        wakers.add(wake)
        wake()
      }),
      ms,
      label,
    )
  let messagesTaken = 0
  let closesTaken = 0
  return {
    url: peer.url,
    port: peer.port,
    requests,
    messages,
    until,
    async nextMessage(label = 'a message at the server') {
      const index = messagesTaken++
      await until(() => messages.length > index, 5000, label)
      return messages[index]
    },
    async nextClose() {
      const index = closesTaken++
      await until(() => closes.length > index, 5000, 'the server to see the close')
      return closes[index]
    },
    send: (data) => latest.send(data),
  }
}

/** A client whose close() runs at teardown (it may throw if already closed). */
export function clientFor(t, url, options) {
  const wss = new WebSocketStream(url, options)
  t.teardown(() => {
    try {
      wss.close()
    } catch {}
  })
  return wss
}

/** A client as clientFor gives it, once open: `{wss, readable, writable, ...}`. */
export async function openedClientFor(t, url, options, ms = 10_000) {
  const wss = clientFor(t, url, options)
  const info = await withTimeout(wss.opened, ms, `opened ${url}`)
  return { wss, ...info }
}

/**
 * A client (clientFor, with `options`) of a raw WebSocket server
 * (startRawWebSocketServer, with `server` options), once open: the server's
 * `{socket, request, frames}` and the client's `{wss, readable, writable,
 * protocol, extensions}`.
 */
export async function openedRawClientFor(t, { options, server } = {}) {
  const peer = await startRawWebSocketServer(t, server)
  const wss = clientFor(t, peer.url, options)
  const connection = await peer.connection()
  const info = await withTimeout(wss.opened, 5000, 'opened')
  return { ...connection, wss, ...info }
}

/**
 * An open client whose 8 MiB write waits for a raw server that does not
 * read: what openedRawClientFor gives, `socket` paused, and `writer` and
 * its `pendingWrite`. The write goes as far as the socket buffers let it,
 * which nothing announces: it is given `ms` to get there.
 */
export async function clientWithStalledWrite(t, ms = 300) {
  const client = await openedRawClientFor(t, { server: { read: false } })
  const writer = client.writable.getWriter()
  const pendingWrite = writer.write(new Uint8Array(8 << 20))
  pendingWrite.catch(() => {})
  await delay(ms)
  return { ...client, writer, pendingWrite }
}
