// Errors a program can act on (README "Errors and their codes"): every
// WebSocketError for a failure carries a standard `cause`, an Error with a
// stable `code` (Node's where Node has one, ERR_WEBSOCKETSTREAM_* otherwise)
// and the details its code documents; util.inspect shows closeCode, reason
// and the cause. Each failure is made for real: refused ports, HTTP servers
// that answer 401/503, a proxy that wants credentials, raw servers that break
// the protocol, stall the Close or vanish.
import test from 'ava'
import http from 'node:http'
import { inspect } from 'node:util'
import { WebSocketStream } from '../index.mjs'
import { assertWebSocketError } from './helpers/errors.mjs'
import { clientFor, openedRawClientFor, rawServerFor } from './helpers/fixtures.mjs'
import { startConnectProxy } from './helpers/proxy.mjs'
import { encodeFrame, handshakeResponse, readRequest, respondHttp, textFrame } from './helpers/raw-server.mjs'
import { refusedPort, startWsServer } from './helpers/servers.mjs'
import { rejectionOf } from './helpers/settle.mjs'

/** `opened` and `closed` of a connection that fails before opening, with their causes. */
async function failureBeforeOpening(t, wss) {
  const opened = await rejectionOf(wss.opened, 15_000, 'opened')
  assertWebSocketError(t, opened, { closeCode: null }, 'opened')
  const closed = await rejectionOf(wss.closed, 5000, 'closed')
  assertWebSocketError(t, closed, { closeCode: 1006 }, 'closed')
  t.true(opened.cause instanceof Error, 'the cause is an Error')
  t.is(closed.cause, opened.cause, 'opened and closed share the cause')
  return opened.cause
}

/** An HTTP server on 127.0.0.1 answering every request with `status` and `headers`. */
async function httpServerFor(t, status, headers) {
  const server = http.createServer((request, response) => response.writeHead(status, headers).end('no'))
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => server.close())
  return `ws://127.0.0.1:${server.address().port}/`
}

test('a refused connection has the cause ECONNREFUSED, as Node names it', async (t) => {
  const wss = new WebSocketStream(`ws://127.0.0.1:${await refusedPort()}/`)
  const cause = await failureBeforeOpening(t, wss)
  t.is(cause.code, 'ECONNREFUSED')
  t.regex(cause.message, /connection refused/)
})

test('a name that does not resolve has the resolver error as cause (ENOTFOUND)', async (t) => {
  const lookup = (hostname, options, callback) =>
    setImmediate(() => callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' })))
  const cause = await failureBeforeOpening(t, new WebSocketStream('ws://gone.test/', { lookup }))
  t.is(cause.code, 'ENOTFOUND')
})

// 401: stop (the WWW-Authenticate says why); 503: retry, after its Retry-After.
for (const [status, header, value] of [
  [401, 'WWW-Authenticate', 'Bearer realm="api"'],
  [503, 'Retry-After', '30'],
]) {
  test(`a ${status} is an unexpected response with its status and its ${header}`, async (t) => {
    const url = await httpServerFor(t, status, { [header]: value })
    const cause = await failureBeforeOpening(t, new WebSocketStream(url))
    t.is(cause.code, 'ERR_WEBSOCKETSTREAM_UNEXPECTED_RESPONSE')
    t.is(cause.statusCode, status)
    t.is(cause.headers[header.toLowerCase()], value)
  })
}

test('a proxy that refuses the tunnel is ERR_WEBSOCKETSTREAM_PROXY with its status', async (t) => {
  const proxy = await startConnectProxy({ credentials: 'user:secret' })
  t.teardown(() => proxy.close())
  const wss = new WebSocketStream(`ws://127.0.0.1:${await refusedPort()}/`, { proxy: proxy.url })
  const cause = await failureBeforeOpening(t, wss)
  t.is(cause.code, 'ERR_WEBSOCKETSTREAM_PROXY')
  t.is(cause.statusCode, 407)
  t.is(cause.headers['proxy-authenticate'], 'Basic')
})

test('a 101 with a wrong accept key is ERR_WEBSOCKETSTREAM_INVALID_RESPONSE', async (t) => {
  const server = await rawServerFor(t, async (socket) => {
    socket.on('error', () => {})
    socket.write(handshakeResponse(await readRequest(socket), { acceptKey: 'wrong' }))
  })
  const cause = await failureBeforeOpening(t, clientFor(t, server.url))
  t.is(cause.code, 'ERR_WEBSOCKETSTREAM_INVALID_RESPONSE')
  t.regex(cause.message, /Sec-WebSocket-Accept/)
})

test('a server that hangs up before answering is ERR_WEBSOCKETSTREAM_CONNECTION_LOST', async (t) => {
  const server = await rawServerFor(t, async (socket) => {
    socket.on('error', () => {})
    await readRequest(socket)
    socket.end()
  })
  const cause = await failureBeforeOpening(t, clientFor(t, server.url))
  t.is(cause.code, 'ERR_WEBSOCKETSTREAM_CONNECTION_LOST')
})

test('close() before the handshake completed is ERR_WEBSOCKETSTREAM_CLOSED_BEFORE_OPEN', async (t) => {
  const wss = new WebSocketStream(`ws://127.0.0.1:${await refusedPort()}/`)
  wss.close()
  const cause = await failureBeforeOpening(t, wss)
  t.is(cause.code, 'ERR_WEBSOCKETSTREAM_CLOSED_BEFORE_OPEN')
})

test('a protocol violation is ERR_WEBSOCKETSTREAM_PROTOCOL with the Close code we sent', async (t) => {
  const { socket, wss } = await openedRawClientFor(t)
  socket.write(textFrame('masked', { masked: true }))
  const closed = await rejectionOf(wss.closed, 5000, 'closed')
  assertWebSocketError(t, closed, { closeCode: 1006 })
  t.is(closed.cause.code, 'ERR_WEBSOCKETSTREAM_PROTOCOL')
  t.is(closed.cause.sentCloseCode, 1002)
})

test('a message over maxMessageSize is ERR_WEBSOCKETSTREAM_MESSAGE_TOO_LARGE, closed with 1009', async (t) => {
  const { socket, wss } = await openedRawClientFor(t, { options: { maxMessageSize: 1024 } })
  socket.write(encodeFrame({ opcode: 0x2, payload: Buffer.alloc(4096) }))
  const closed = await rejectionOf(wss.closed, 5000, 'closed')
  t.is(closed.cause.code, 'ERR_WEBSOCKETSTREAM_MESSAGE_TOO_LARGE')
  t.is(closed.cause.sentCloseCode, 1009)
})

test('an unanswered Close is ERR_WEBSOCKETSTREAM_CLOSE_TIMEOUT', async (t) => {
  const { wss } = await openedRawClientFor(t, { options: { closeTimeout: 100 } })
  wss.close()
  const closed = await rejectionOf(wss.closed, 5000, 'closed')
  t.is(closed.cause.code, 'ERR_WEBSOCKETSTREAM_CLOSE_TIMEOUT')
})

test('a silent peer under idleTimeout is ERR_WEBSOCKETSTREAM_IDLE_TIMEOUT', async (t) => {
  const { wss } = await openedRawClientFor(t, { options: { idleTimeout: 100 } })
  const closed = await rejectionOf(wss.closed, 5000, 'closed')
  t.is(closed.cause.code, 'ERR_WEBSOCKETSTREAM_IDLE_TIMEOUT')
})

test('TCP ending without a closing handshake is ERR_WEBSOCKETSTREAM_CONNECTION_LOST', async (t) => {
  const { socket, wss } = await openedRawClientFor(t)
  socket.end()
  const closed = await rejectionOf(wss.closed, 5000, 'closed')
  assertWebSocketError(t, closed, { closeCode: 1006 })
  t.is(closed.cause.code, 'ERR_WEBSOCKETSTREAM_CONNECTION_LOST')
})

test('a clean close has no cause, and util.inspect shows closeCode, reason and the cause of a failure', async (t) => {
  const peer = await startWsServer((socket) => socket.close(4000, 'bye'))
  t.teardown(() => peer.close())
  const clean = new WebSocketStream(peer.url)
  t.deepEqual(await clean.closed, { closeCode: 4000, reason: 'bye' })

  const failed = new WebSocketStream(`ws://127.0.0.1:${await refusedPort()}/`)
  const closed = await rejectionOf(failed.closed, 5000, 'closed')
  const text = inspect(closed)
  t.regex(text, /^WebSocketError: WebSocket connection to/)
  t.regex(text, /closeCode: 1006, reason: ''/)
  t.regex(text, /\[cause\]: Error: could not connect .*\n[\s\S]*code: 'ECONNREFUSED'/)
})

test('any other status is an unexpected response too, with the fields as received', async (t) => {
  const server = await rawServerFor(t, async (socket) => {
    socket.on('error', () => {})
    await readRequest(socket)
    respondHttp(socket, 404, 'Not Found', 'nothing here', { 'X-Trace': 'abc' })
  })
  const cause = await failureBeforeOpening(t, clientFor(t, server.url))
  t.is(cause.code, 'ERR_WEBSOCKETSTREAM_UNEXPECTED_RESPONSE')
  t.is(cause.statusCode, 404)
  t.is(cause.headers['x-trace'], 'abc')
})
