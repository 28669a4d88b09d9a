// Servers and clients that a spec's teardown ends, whatever state the test
// left them in.
import { WebSocketStream } from '../../index.mjs'
import { startRawServer, startWsServer } from './servers.mjs'
import { withTimeout } from './timeout.mjs'

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
export async function openedClientFor(t, url, options) {
  const wss = clientFor(t, url, options)
  const info = await withTimeout(wss.opened, 5000, 'opened')
  return { wss, ...info }
}
