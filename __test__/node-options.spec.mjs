// The Node extensions to the options dictionary: headers, maxMessageSize and
// an HTTP CONNECT proxy (explicit or from the environment).
import test from 'ava'
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { WebSocketStream, WebSocketError } from '../index.mjs'
import { startWsServer } from './helpers/servers.mjs'
import { startConnectProxy } from './helpers/proxy.mjs'
import { rejectionOf } from './helpers/settle.mjs'
import { recordingServer } from './helpers/fixtures.mjs'

async function echoOnce(wss, message) {
  const { readable, writable } = await wss.opened
  await writable.getWriter().write(message)
  const { value } = await readable.getReader().read()
  wss.close()
  await wss.closed
  return value
}

test('headers from a plain object, an array of pairs and a Headers reach the server', async (t) => {
  const server = await recordingServer(t)
  const forms = [
    { Authorization: 'Bearer one', 'X-Multi': ['a', 'b'] },
    [
      ['Authorization', 'Bearer two'],
      ['Cookie', 'k=v'],
    ],
    new Headers({ Authorization: 'Bearer three', 'User-Agent': 'websocketstream-test' }),
  ]
  for (const headers of forms) {
    t.is(await echoOnce(new WebSocketStream(server.url, { headers }), 'x'), 'x')
  }
  const [first, second, third] = server.requests.map((request) => request.headers)
  t.is(first.authorization, 'Bearer one')
  t.is(first['x-multi'], 'a, b')
  t.is(second.authorization, 'Bearer two')
  t.is(second.cookie, 'k=v')
  t.is(third.authorization, 'Bearer three')
  t.is(third['user-agent'], 'websocketstream-test')
})

test('headers the handshake owns, bad names and values with CR or LF are TypeErrors', (t) => {
  const url = 'ws://127.0.0.1:1/'
  for (const name of ['Host', 'upgrade', 'Connection', 'Sec-WebSocket-Key', 'sec-websocket-protocol']) {
    t.throws(() => new WebSocketStream(url, { headers: { [name]: 'x' } }), {
      instanceOf: TypeError,
      message: /handshake owns it/,
    })
  }
  t.throws(() => new WebSocketStream(url, { headers: { 'bad name': 'x' } }), { instanceOf: TypeError })
  t.throws(() => new WebSocketStream(url, { headers: { 'X-A': 'a\r\nInjected: 1' } }), { instanceOf: TypeError })
  t.throws(() => new WebSocketStream(url, { headers: 'Authorization: x' }), {
    instanceOf: TypeError,
    message: /options\.headers/,
  })
  t.throws(() => new WebSocketStream(url, { headers: [['only-a-name']] }), { instanceOf: TypeError })
})

test('a message over maxMessageSize closes the connection with 1009 and closed rejects', async (t) => {
  let serverSawClose
  const sawClose = new Promise((resolve) => {
    serverSawClose = resolve
  })
  const server = await startWsServer((socket) => {
    socket.on('close', (code) => serverSawClose(code))
    socket.send(Buffer.alloc(1000))
    socket.send(Buffer.alloc(1001))
  })
  t.teardown(() => server.close())
  const wss = new WebSocketStream(server.url, { maxMessageSize: 1000 })
  const { readable } = await wss.opened
  const reader = readable.getReader()
  t.is((await reader.read()).value.byteLength, 1000)
  const error = await rejectionOf(wss.closed)
  t.true(error instanceof WebSocketError)
  t.is(error.closeCode, 1006)
  t.regex(error.message, /size limit/)
  t.is(await sawClose, 1009)
})

test('invalid maxMessageSize values are TypeErrors', (t) => {
  for (const maxMessageSize of [0, -1, 1.5, '10', 2 ** 32, Number.NaN]) {
    t.throws(() => new WebSocketStream('ws://127.0.0.1:1/', { maxMessageSize }), {
      instanceOf: TypeError,
      message: /maxMessageSize/,
    })
  }
})

test('a proxy option tunnels ws:// through HTTP CONNECT, with credentials from the proxy URL', async (t) => {
  const server = await recordingServer(t)
  const proxy = await startConnectProxy({ credentials: 'user:p@ss' })
  t.teardown(() => proxy.close())
  const wss = new WebSocketStream(server.url, { proxy: `http://user:p%40ss@127.0.0.1:${proxy.port}` })
  t.is(await echoOnce(wss, 'via proxy'), 'via proxy')
  t.is(proxy.requests.length, 1)
  t.is(proxy.requests[0].target, `127.0.0.1:${server.port}`)
  t.is(proxy.requests[0].authorization, `Basic ${Buffer.from('user:p@ss').toString('base64')}`)
})

test('a proxy that answers 407 fails the connection with the status in the message', async (t) => {
  const server = await recordingServer(t)
  const proxy = await startConnectProxy({ credentials: 'user:secret' })
  t.teardown(() => proxy.close())
  const wss = new WebSocketStream(server.url, { proxy: proxy.url })
  const error = await rejectionOf(wss.opened)
  t.true(error instanceof WebSocketError)
  t.regex(error.message, /proxy .* refused .* 407/)
  t.is(server.requests.length, 0)
})

test('a proxy that is down fails the connection naming the proxy', async (t) => {
  const proxy = await startConnectProxy()
  await proxy.close()
  const wss = new WebSocketStream('ws://127.0.0.1:9/', { proxy: proxy.url })
  const error = await rejectionOf(wss.opened)
  t.regex(error.message, /proxy: could not connect to 127\.0\.0\.1/)
})

test('invalid proxy values are TypeErrors', (t) => {
  for (const proxy of ['not a url', 'socks5://127.0.0.1:1080', 'https://127.0.0.1:1']) {
    t.throws(() => new WebSocketStream('ws://127.0.0.1:1/', { proxy }), {
      instanceOf: TypeError,
      message: /proxy/,
    })
  }
})

test('with NODE_USE_ENV_PROXY=1, HTTP_PROXY is used unless NO_PROXY matches', async (t) => {
  const server = await recordingServer(t)
  const proxy = await startConnectProxy()
  t.teardown(() => proxy.close())
  const script = fileURLToPath(new URL('./fixtures/env-proxy-client.mjs', import.meta.url))
  const run = (env) =>
    new Promise((resolve) => {
      execFile(
        process.execPath,
        [script, server.url],
        { env: { ...process.env, HTTP_PROXY: proxy.url, ...env }, timeout: 15_000 },
        (error, stdout, stderr) => resolve({ error, stdout, stderr }),
      )
    })
  const proxied = await run({ NODE_USE_ENV_PROXY: '1', NO_PROXY: 'example.com' })
  t.is(proxied.stdout.trim(), 'echo: env')
  t.is(proxy.requests.length, 1)
  const bypassed = await run({ NODE_USE_ENV_PROXY: '1', NO_PROXY: 'localhost,127.0.0.1' })
  t.is(bypassed.stdout.trim(), 'echo: env')
  const disabled = await run({ NODE_USE_ENV_PROXY: '' })
  t.is(disabled.stdout.trim(), 'echo: env')
  t.is(proxy.requests.length, 1)
})
