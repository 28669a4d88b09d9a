// The opening handshake: what the client sends, what it accepts, and how
// every way of failing surfaces (the draft (whatwg/websockets#48):
// new WebSocketStream(url, options) establishing the connection, the
// WebSocketOpenInfo `opened` resolves with, and "when the WebSocket
// connection is closed" for a connection that never opened; RFC 6455 §4.1;
// docs/design.md "Errors": messages name the cause, and "Decisions where the
// draft is silent": no Sec-WebSocket-Protocol header for an empty list).
import test from 'ava'
import { createRequire } from 'node:module'
import { WebSocketStream, WebSocketError } from '../index.mjs'
import { acceptHandshake, readRequest, respondHttp, startRawWebSocketServer } from './helpers/raw-server.mjs'
import { rejectionOf, withTimeout } from './helpers/settle.mjs'
import { assertWebSocketError } from './helpers/errors.mjs'
import { clientFor as client, rawServerFor as rawServer, wsServerFor as wsServer } from './helpers/fixtures.mjs'
import { refusedPort } from './helpers/servers.mjs'

const require = createRequire(import.meta.url)

/**
 * A failed handshake rejects `opened` with a bare WebSocketError (closeCode
 * null) and `closed` with one carrying 1006; both messages name the cause.
 */
async function assertHandshakeFails(t, wss, cause, ms = 10_000) {
  // The message may quote the URL; its port digits must not pass for a status.
  const { host } = new URL(wss.url)
  const withoutUrl = (message) => message.replaceAll(wss.url, '<url>').replaceAll(host, '<host>')
  const [openedError, closedError] = await Promise.all([
    rejectionOf(wss.opened, ms, 'opened'),
    rejectionOf(wss.closed, ms, 'closed'),
  ])
  // A new WebSocketError has no close code; no Close frame was received: 1006.
  assertWebSocketError(t, openedError, { closeCode: null }, 'opened')
  assertWebSocketError(t, closedError, { closeCode: 1006 }, 'closed')
  if (cause !== undefined) {
    t.regex(withoutUrl(openedError.message), cause, 'opened: the message names the cause')
    t.regex(withoutUrl(closedError.message), cause, 'closed: the message names the cause')
  }
  return { openedError, closedError }
}

// --- failures -------------------------------------------------------------

test('a refused connection rejects opened and closed with a WebSocketError naming the refusal', async (t) => {
  const port = await refusedPort()
  const wss = client(t, `ws://127.0.0.1:${port}/`)
  await assertHandshakeFails(t, wss, /refused|ECONNREFUSED/i)
})

test('a DNS failure rejects opened and closed with a WebSocketError naming the lookup', async (t) => {
  const wss = client(t, 'ws://no-such-host.invalid/')
  await assertHandshakeFails(t, wss, /dns|resolv|lookup|ENOTFOUND|EAI_|not known|no such host/i, 30_000)
})

test('an HTTP 404 answer rejects opened and closed with a WebSocketError naming the status', async (t) => {
  const peer = await rawServer(t, async (socket) => {
    await readRequest(socket).catch(() => {})
    respondHttp(socket, 404, 'Not Found', 'no websocket here')
  })
  const wss = client(t, peer.url)
  await assertHandshakeFails(t, wss, /\b404\b/)
})

test('an HTTP 200 answer instead of 101 rejects opened and closed with a WebSocketError naming the status', async (t) => {
  const peer = await rawServer(t, async (socket) => {
    await readRequest(socket).catch(() => {})
    respondHttp(socket, 200, 'OK', 'hello')
  })
  const wss = client(t, peer.url)
  await assertHandshakeFails(t, wss, /\b200\b/)
})

test('a wrong Sec-WebSocket-Accept rejects opened and closed with a WebSocketError naming the header', async (t) => {
  const peer = await rawServer(t, (socket) => {
    acceptHandshake(socket, { acceptKey: 'dGhpcyBpcyBub3QgdGhlIGtleQ==' }).catch(() => {})
  })
  const wss = client(t, peer.url)
  await assertHandshakeFails(t, wss, /accept/i)
})

test('a subprotocol the client did not offer rejects opened and closed with a WebSocketError naming it', async (t) => {
  const peer = await rawServer(t, (socket) => {
    acceptHandshake(socket, { protocol: 'superchat' }).catch(() => {})
  })
  const wss = client(t, peer.url, { protocols: ['chat', 'json'] })
  await assertHandshakeFails(t, wss, /protocol/i)
})

test('a subprotocol selected when none was offered rejects opened and closed with a WebSocketError', async (t) => {
  const peer = await rawServer(t, (socket) => {
    acceptHandshake(socket, { protocol: 'chat' }).catch(() => {})
  })
  const wss = client(t, peer.url)
  await assertHandshakeFails(t, wss, /protocol/i)
})

test('a server that closes TCP right after the request rejects opened and closed with a WebSocketError', async (t) => {
  const peer = await rawServer(t, async (socket) => {
    await readRequest(socket).catch(() => {})
    socket.end()
  })
  const wss = client(t, peer.url)
  await assertHandshakeFails(t, wss)
})

// --- success --------------------------------------------------------------

test("protocol is the server's selection among the offered protocols", async (t) => {
  let offered
  const peer = await wsServer(t, undefined, {
    handleProtocols: (protocols) => {
      offered = [...protocols]
      return 'beta'
    },
  })
  const wss = client(t, peer.url, { protocols: ['alpha', 'beta', 'gamma'] })
  const { protocol } = await withTimeout(wss.opened, 5000, 'opened')
  t.is(protocol, 'beta')
  t.deepEqual(offered, ['alpha', 'beta', 'gamma'], 'the server saw all offered protocols, in order')
})

test('protocol is the empty string when the server selects none of the offered protocols', async (t) => {
  const peer = await wsServer(t, undefined, { handleProtocols: () => false })
  const wss = client(t, peer.url, { protocols: ['alpha'] })
  const { protocol } = await withTimeout(wss.opened, 5000, 'opened')
  t.is(protocol, '')
})

test('extensions is the empty string when the server negotiates none', async (t) => {
  const peer = await wsServer(t)
  const wss = client(t, peer.url)
  const info = await withTimeout(wss.opened, 5000, 'opened')
  t.is(info.extensions, '')
  t.is(info.protocol, '')
})

test('no Sec-WebSocket-Protocol header is sent when protocols is empty', async (t) => {
  const peer = await startRawWebSocketServer(t)
  const wssDefault = client(t, peer.url)
  const first = await peer.connection()
  const wssEmpty = client(t, peer.url, { protocols: [] })
  const second = await peer.connection()
  t.false('sec-websocket-protocol' in first.request.headers, 'no protocols option')
  t.false('sec-websocket-protocol' in second.request.headers, 'protocols: []')
  await withTimeout(Promise.all([wssDefault.opened, wssEmpty.opened]), 5000, 'opened')
})

test('the offered protocols are sent in one Sec-WebSocket-Protocol header, in order', async (t) => {
  const peer = await startRawWebSocketServer(t, { handshake: { protocol: 'b' } })
  const wss = client(t, peer.url, { protocols: ['a', 'b', 'c'] })
  const { request } = await peer.connection()
  t.deepEqual(request.headers['sec-websocket-protocol'].split(/\s*,\s*/), ['a', 'b', 'c'])
  const { protocol } = await withTimeout(wss.opened, 5000, 'opened')
  t.is(protocol, 'b')
})

test('the upgrade request is a GET with Upgrade, Connection, a 16-byte key, version 13 and the Host', async (t) => {
  const peer = await startRawWebSocketServer(t)
  const wss = client(t, peer.url)
  const { request } = await peer.connection()
  t.is(request.method, 'GET')
  t.is(request.httpVersion, 'HTTP/1.1')
  t.is(request.headers.upgrade.toLowerCase(), 'websocket')
  t.true(
    request.headers.connection.split(/\s*,\s*/).some((token) => token.toLowerCase() === 'upgrade'),
    `Connection: ${request.headers.connection}`,
  )
  t.is(request.headers['sec-websocket-version'], '13')
  const key = request.headers['sec-websocket-key']
  t.regex(key, /^[A-Za-z0-9+/]{22}==$/, 'base64 of 16 bytes')
  t.is(Buffer.from(key, 'base64').length, 16)
  t.is(request.headers.host, `127.0.0.1:${peer.port}`)
  await withTimeout(wss.opened, 5000, 'opened')
})

test('each connection uses a fresh Sec-WebSocket-Key', async (t) => {
  const peer = await startRawWebSocketServer(t)
  client(t, peer.url)
  const first = await peer.connection()
  client(t, peer.url)
  const second = await peer.connection()
  t.not(first.request.headers['sec-websocket-key'], second.request.headers['sec-websocket-key'])
})

test('the request target is the path and query of the URL', async (t) => {
  const peer = await startRawWebSocketServer(t)
  const wss = client(t, `ws://127.0.0.1:${peer.port}/some/path/here?x=1&y=two%20words`)
  const { request } = await peer.connection()
  t.is(request.path, '/some/path/here?x=1&y=two%20words')
  await withTimeout(wss.opened, 5000, 'opened')
})

test('a URL without a path requests /', async (t) => {
  const peer = await startRawWebSocketServer(t)
  client(t, `ws://127.0.0.1:${peer.port}`)
  const { request } = await peer.connection()
  t.is(request.path, '/')
})

test('an http:// URL connects as ws:// and exchanges messages', async (t) => {
  let upgradedPath
  const peer = await wsServer(t, (socket, request) => {
    upgradedPath = request.url
    socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }))
  })
  const wss = client(t, `http://127.0.0.1:${peer.port}/chat?room=1`)
  t.is(wss.url, `ws://127.0.0.1:${peer.port}/chat?room=1`)
  const { readable, writable } = await withTimeout(wss.opened, 5000, 'opened')
  t.is(upgradedPath, '/chat?room=1')
  const writer = writable.getWriter()
  const reader = readable.getReader()
  await withTimeout(writer.write('over http'), 5000, 'write')
  const { value } = await withTimeout(reader.read(), 5000, 'read')
  t.is(value, 'over http')
})

test('the CommonJS entry connects like the ESM one', async (t) => {
  const cjs = require('../index.js')
  t.is(cjs.WebSocketStream, WebSocketStream)
  t.is(cjs.WebSocketError, WebSocketError)
  const peer = await wsServer(t)
  const wss = new cjs.WebSocketStream(peer.url)
  t.teardown(() => wss.close())
  const { protocol } = await withTimeout(wss.opened, 5000, 'opened')
  t.is(protocol, '')
})
