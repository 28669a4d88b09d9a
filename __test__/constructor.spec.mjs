// The constructor: WebIDL argument conversion, the URL and protocols rules,
// the AbortSignal, and the shape of the interface (the draft
// (whatwg/websockets#48): the WebSocketStream and WebSocketStreamOptions
// IDL, new WebSocketStream(url, options) steps; docs/design.md "Decisions
// where the draft is silent").
import test from 'ava'
import { inspect } from 'node:util'
import { setTimeout as delay } from 'node:timers/promises'
import { WebSocketStream, WebSocketError } from '../index.mjs'
import { eventually, rejectionOf, withTimeout } from './helpers/settle.mjs'
import { assertDOMException, assertTypeError, thrownBy } from './helpers/errors.mjs'
import {
  clientFor as tracked,
  rawServerFor as rawServer,
  recordingServer,
  wsServerFor as wsServer,
} from './helpers/fixtures.mjs'
import { refusedPort } from './helpers/servers.mjs'

const LOCAL = 'ws://127.0.0.1:1/'

/**
 * A WebSocketStream that never connects: an already-aborted signal stops it
 * after the URL and protocols have been validated (the new
 * WebSocketStream(url, options) steps check options.signal last).
 */
function inert(url, options = {}) {
  return new WebSocketStream(url, { ...options, signal: AbortSignal.abort() })
}

// --- url ---------------------------------------------------------------------

test('a missing url is a TypeError', (t) => {
  assertTypeError(
    t,
    thrownBy(t, () => new WebSocketStream()),
  )
})

test('a URL object is accepted and connects', async (t) => {
  const { url } = await wsServer(t)
  const wss = tracked(t, new URL(url))
  t.is(wss.url, url)
  const { readable, writable } = await withTimeout(wss.opened, 5000, 'opened')
  t.truthy(readable)
  t.truthy(writable)
})

test('a relative URL is a SyntaxError (Node has no base URL)', (t) => {
  for (const url of ['/path', 'path', '//127.0.0.1/', '?q', '']) {
    assertDOMException(
      t,
      thrownBy(t, () => new WebSocketStream(url)),
      'SyntaxError',
      JSON.stringify(url),
    )
  }
})

test('a URL that does not parse is a SyntaxError', (t) => {
  for (const url of ['ws://', 'ws://[::1/', 'ws://127.0.0.1:99999/']) {
    assertDOMException(
      t,
      thrownBy(t, () => new WebSocketStream(url)),
      'SyntaxError',
      url,
    )
  }
})

test('schemes other than ws, wss, http and https are SyntaxErrors', (t) => {
  for (const url of [
    'ftp://127.0.0.1/',
    'file:///tmp/socket',
    'invalid:',
    'javascript:alert(1)',
    'data:,x',
    'wss+unix://x',
  ]) {
    assertDOMException(
      t,
      thrownBy(t, () => new WebSocketStream(url)),
      'SyntaxError',
      url,
    )
  }
})

test('a URL with a fragment is a SyntaxError, an empty fragment too', (t) => {
  for (const url of ['ws://127.0.0.1/#x', 'ws://127.0.0.1/#', 'http://127.0.0.1/path?q#', 'wss://127.0.0.1#frag']) {
    assertDOMException(
      t,
      thrownBy(t, () => new WebSocketStream(url)),
      'SyntaxError',
      url,
    )
  }
})

test('http: becomes ws: and https: becomes wss: in url', (t) => {
  t.is(inert('http://127.0.0.1:8080/a?b=c').url, 'ws://127.0.0.1:8080/a?b=c')
  t.is(inert('https://127.0.0.1:8443/a').url, 'wss://127.0.0.1:8443/a')
  t.is(inert('HTTP://127.0.0.1/').url, 'ws://127.0.0.1/')
})

test('an http: URL connects as ws:', async (t) => {
  const { port } = await wsServer(t)
  const wss = tracked(t, `http://127.0.0.1:${port}/x`)
  t.is(wss.url, `ws://127.0.0.1:${port}/x`)
  await t.notThrowsAsync(withTimeout(wss.opened, 5000, 'opened'))
})

test('url is the serialized URL record: default ports dropped, empty path made /', (t) => {
  t.is(inert('http://127.0.0.1:80/a').url, 'ws://127.0.0.1/a')
  t.is(inert('https://127.0.0.1:443/a').url, 'wss://127.0.0.1/a')
  t.is(inert('ws://127.0.0.1:80').url, 'ws://127.0.0.1/')
  t.is(inert('wss://127.0.0.1:443').url, 'wss://127.0.0.1/')
  t.is(inert('ws://127.0.0.1').url, 'ws://127.0.0.1/')
  t.is(inert('WS://LOCALHOST:8080/Path').url, 'ws://localhost:8080/Path')
  t.is(inert('ws://127.0.0.1/a b').url, 'ws://127.0.0.1/a%20b')
})

test('url is converted to a USVString: a lone surrogate becomes U+FFFD', (t) => {
  t.is(inert('ws://127.0.0.1/\uD800').url, 'ws://127.0.0.1/%EF%BF%BD')
})

test('url is converted with ToString', (t) => {
  const url = { toString: () => 'ws://127.0.0.1:9/from-object' }
  t.is(inert(url).url, 'ws://127.0.0.1:9/from-object')
})

// --- options -----------------------------------------------------------------

test('options that are not an object (true, 1, "x", a Symbol) are TypeErrors', (t) => {
  for (const options of [true, 1, 'x', Symbol('s'), 0n]) {
    assertTypeError(
      t,
      thrownBy(t, () => new WebSocketStream(LOCAL, options)),
      String(options),
    )
  }
})

test('options null and undefined mean no options', async (t) => {
  const { url } = await wsServer(t)
  for (const options of [null, undefined]) {
    const wss = tracked(t, url, options)
    await t.notThrowsAsync(withTimeout(wss.opened, 5000, `opened with ${options}`))
  }
})

test('options are converted before the URL is parsed: ("invalid:", true) is a TypeError', (t) => {
  assertTypeError(
    t,
    thrownBy(t, () => new WebSocketStream('invalid:', true)),
  )
  assertTypeError(
    t,
    thrownBy(t, () => new WebSocketStream('invalid:', { protocols: 'x' })),
  )
  assertTypeError(
    t,
    thrownBy(t, () => new WebSocketStream('invalid:', { signal: {} })),
  )
})

// --- protocols ---------------------------------------------------------------

test('protocols as a bare string is a TypeError', (t) => {
  assertTypeError(
    t,
    thrownBy(t, () => new WebSocketStream(LOCAL, { protocols: 'chat' })),
  )
})

test('protocols that is not iterable (a number, a plain object, null) is a TypeError', (t) => {
  for (const protocols of [1, {}, null, true]) {
    assertTypeError(
      t,
      thrownBy(t, () => new WebSocketStream(LOCAL, { protocols })),
      inspect(protocols),
    )
  }
})

test('protocols from a Set are offered in order and the first is selected', async (t) => {
  let header
  const { url } = await wsServer(t, (socket, request) => {
    header = request.headers['sec-websocket-protocol']
  })
  const wss = tracked(t, url, { protocols: new Set(['chat', 'superchat']) })
  const { protocol } = await withTimeout(wss.opened, 5000, 'opened')
  t.is(header, 'chat, superchat')
  t.is(protocol, 'chat')
})

test('protocols from a generator are accepted', async (t) => {
  let header
  const { url } = await wsServer(t, (socket, request) => {
    header = request.headers['sec-websocket-protocol']
  })
  function* protocols() {
    yield 'one'
    yield 'two'
  }
  const wss = tracked(t, url, { protocols: protocols() })
  const { protocol } = await withTimeout(wss.opened, 5000, 'opened')
  t.is(header, 'one, two')
  t.is(protocol, 'one')
})

test('each protocol is converted with ToString', async (t) => {
  const server = await recordingServer(t)
  const protocols = [{ toString: () => 'chat' }, 42, 1.5, true, null, new String('boxed'), 10n]
  const { protocol } = await withTimeout(tracked(t, server.url, { protocols }).opened, 5000, 'opened')
  t.is(server.requests[0].headers['sec-websocket-protocol'], 'chat, 42, 1.5, true, null, boxed, 10')
  t.is(protocol, 'chat', "the server selected the first offer: the object's string")
})

test('no Sec-WebSocket-Protocol header is sent when protocols is empty', async (t) => {
  let headers
  const { url } = await wsServer(t, (socket, request) => {
    headers = request.headers
  })
  const wss = tracked(t, url, { protocols: [] })
  const { protocol } = await withTimeout(wss.opened, 5000, 'opened')
  t.false('sec-websocket-protocol' in headers)
  t.is(protocol, '')
})

test('protocols that are not RFC 2616 tokens are SyntaxErrors', (t) => {
  const invalid = [
    '',
    ' ',
    'a b',
    ' chat',
    'chat\t',
    'a,b',
    'a/b',
    '"',
    'a"b',
    ...'()<>@,;:\\"/[]?={}',
    'é',
    'chat\u00A0',
    '🔌',
    '\u0000',
    'a\u001Fb',
    '\u007F',
    'a\r\nb',
  ]
  for (const bad of invalid) {
    const error = thrownBy(t, () => new WebSocketStream(LOCAL, { protocols: ['valid', bad] }))
    assertDOMException(t, error, 'SyntaxError', JSON.stringify(bad))
  }
})

test('every visible ASCII character that is not a separator is a valid protocol character', (t) => {
  t.notThrows(() => inert(LOCAL, { protocols: ["!#$%&'*+-.^_`|~", 'Az09', 'v1.chat.example'] }))
})

test('duplicate protocols are SyntaxErrors, compared ASCII case-insensitively', (t) => {
  for (const protocols of [
    ['echo', 'echo'],
    ['echo', 'eCho'],
    ['a', 'b', 'A'],
  ]) {
    const error = thrownBy(t, () => new WebSocketStream(LOCAL, { protocols }))
    assertDOMException(t, error, 'SyntaxError', JSON.stringify(protocols))
  }
})

test('the URL is checked before the protocols', (t) => {
  const error = thrownBy(t, () => new WebSocketStream('ftp://127.0.0.1/', { protocols: ['a', 'a'] }))
  assertDOMException(t, error, 'SyntaxError')
  t.regex(error.message, /scheme|ftp|url/i, 'the message is about the URL, not the protocols')
})

// --- signal ------------------------------------------------------------------

test('a signal that is not an AbortSignal is a TypeError', (t) => {
  const lookalike = { aborted: false, reason: undefined, addEventListener() {}, removeEventListener() {} }
  for (const signal of [{}, lookalike, 'signal', 1, null, new AbortController()]) {
    assertTypeError(
      t,
      thrownBy(t, () => new WebSocketStream(LOCAL, { signal })),
      inspect(signal),
    )
  }
})

test('an already-aborted signal rejects opened and closed with its reason and never connects', async (t) => {
  let connections = 0
  const { url } = await rawServer(t, () => connections++)
  const reason = { custom: 'reason' }
  const wss = new WebSocketStream(url, { signal: AbortSignal.abort(reason) })
  t.is(wss.url, url)
  t.is(await rejectionOf(wss.opened, 5000), reason)
  t.is(await rejectionOf(wss.closed, 5000), reason)
  // A connection never attempted has no event to wait for: give one 200 ms to show.
  await delay(200)
  t.is(connections, 0, 'no TCP connection was attempted')
})

test('an already-aborted signal with the default reason rejects with that AbortError', async (t) => {
  const signal = AbortSignal.abort()
  const wss = new WebSocketStream(LOCAL, { signal })
  const opened = await rejectionOf(wss.opened, 5000)
  t.is(opened, signal.reason)
  assertDOMException(t, opened, 'AbortError')
  t.is(await rejectionOf(wss.closed, 5000), signal.reason)
})

test('an already-aborted signal does not stop URL and protocols validation', (t) => {
  const signal = AbortSignal.abort()
  assertDOMException(
    t,
    thrownBy(t, () => new WebSocketStream('ftp://127.0.0.1/', { signal })),
    'SyntaxError',
  )
  assertDOMException(
    t,
    thrownBy(t, () => new WebSocketStream(LOCAL, { signal, protocols: ['a', 'A'] })),
    'SyntaxError',
  )
})

test('aborting during the handshake rejects opened and closed with the reason and drops the connection', async (t) => {
  let arrived
  const socketArrived = new Promise((resolve) => (arrived = resolve))
  // Accepts TCP and reads the request, but never answers it.
  const { url } = await rawServer(t, (socket) => {
    const ended = new Promise((resolve) => socket.on('close', resolve))
    socket.resume()
    arrived({ ended })
  })
  const controller = new AbortController()
  const wss = tracked(t, url, { signal: controller.signal })
  const { ended } = await withTimeout(socketArrived, 5000, 'the TCP connection')
  const reason = new Error('stop the handshake')
  controller.abort(reason)
  t.is(await rejectionOf(wss.opened, 5000), reason)
  t.is(await rejectionOf(wss.closed, 5000), reason)
  await t.notThrowsAsync(withTimeout(ended, 5000, 'the server side of the aborted connection closes'))
})

test('aborting after the connection opened does nothing', async (t) => {
  const { url } = await wsServer(t)
  const controller = new AbortController()
  const wss = tracked(t, url, { signal: controller.signal })
  const { readable, writable } = await withTimeout(wss.opened, 5000, 'opened')
  // Abort listeners run inside abort(): whatever it set off is under way.
  controller.abort(new Error('too late'))
  const writer = writable.getWriter()
  const reader = readable.getReader()
  await withTimeout(writer.write('still open'), 5000, 'write')
  t.deepEqual(await withTimeout(reader.read(), 5000, 'read'), { value: 'still open', done: false })
  wss.close()
  t.deepEqual(await withTimeout(wss.closed, 5000, 'closed'), { closeCode: 1005, reason: '' })
})

// --- the interface -------------------------------------------------------------

test('url, opened and closed are getters on the prototype without setters', (t) => {
  for (const name of ['url', 'opened', 'closed']) {
    const descriptor = Object.getOwnPropertyDescriptor(WebSocketStream.prototype, name)
    t.is(typeof descriptor?.get, 'function', `${name} has a getter`)
    t.is(descriptor.set, undefined, `${name} has no setter`)
    t.true(descriptor.configurable, `${name} is configurable`)
    t.true(descriptor.enumerable, `${name} is enumerable`)
  }
  const wss = inert(LOCAL)
  t.deepEqual(Object.getOwnPropertyNames(wss), [], 'no own properties on the instance')
})

test('assigning to url does not change it', (t) => {
  const wss = inert(LOCAL)
  // Modules are strict: assigning to a getter-only accessor throws.
  t.throws(
    () => {
      wss.url = 'ws://127.0.0.1:2/'
    },
    { instanceOf: TypeError },
  )
  t.is(wss.url, LOCAL)
})

test('close is a method on the prototype', (t) => {
  const descriptor = Object.getOwnPropertyDescriptor(WebSocketStream.prototype, 'close')
  t.is(typeof descriptor?.value, 'function')
  t.true(descriptor.writable)
  t.false(Object.hasOwn(inert(LOCAL), 'close'))
  t.is(WebSocketStream.prototype.close.length, 0, 'closeInfo is optional')
  t.is(WebSocketStream.length, 1, 'url is the only required argument')
})

test('Object.prototype.toString gives [object WebSocketStream]', (t) => {
  t.is(Object.prototype.toString.call(inert(LOCAL)), '[object WebSocketStream]')
  t.is(Object.prototype.toString.call(WebSocketStream.prototype), '[object WebSocketStream]')
})

test('the getters and close throw a TypeError on objects that are not WebSocketStreams', (t) => {
  for (const name of ['url', 'opened', 'closed']) {
    const { get } = Object.getOwnPropertyDescriptor(WebSocketStream.prototype, name)
    assertTypeError(
      t,
      thrownBy(t, () => get.call({})),
      name,
    )
  }
  assertTypeError(
    t,
    thrownBy(t, () => WebSocketStream.prototype.close.call({})),
    'close',
  )
})

test('calling WebSocketStream without new is a TypeError', (t) => {
  assertTypeError(
    t,
    thrownBy(t, () => WebSocketStream(LOCAL)),
  )
})

test('opened and closed return the same promise each time', async (t) => {
  const { url } = await wsServer(t)
  const wss = tracked(t, url)
  t.true(wss.opened instanceof Promise)
  t.true(wss.closed instanceof Promise)
  t.is(wss.opened, wss.opened)
  t.is(wss.closed, wss.closed)
  await withTimeout(wss.opened, 5000, 'opened')
  t.is(wss.opened, wss.opened)
  wss.close()
  await withTimeout(wss.closed, 5000, 'closed')
  t.is(wss.closed, wss.closed)
})

test('a refused connection rejects opened and closed with WebSocketErrors', async (t) => {
  const port = await refusedPort()
  const wss = new WebSocketStream(`ws://127.0.0.1:${port}/`)
  const opened = await rejectionOf(wss.opened, 10_000)
  const closed = await rejectionOf(wss.closed, 10_000)
  t.true(opened instanceof WebSocketError)
  t.is(opened.closeCode, null)
  t.true(closed instanceof WebSocketError)
  t.is(closed.closeCode, 1006)
})

test('a failed connection whose promises nobody awaits causes no unhandledRejection', async (t) => {
  const unhandled = []
  const onUnhandled = (reason) => unhandled.push(reason)
  process.on('unhandledRejection', onUnhandled)
  t.teardown(() => process.off('unhandledRejection', onUnhandled))

  const port = await refusedPort()
  const wss = new WebSocketStream(`ws://127.0.0.1:${port}/`)
  // A handler would be the event, and would hide the very bug looked for:
  // look at the promises' state instead until both have rejected.
  const rejected = (promise) => inspect(promise).includes('<rejected>')
  await eventually(() => rejected(wss.opened) && rejected(wss.closed), 10_000, 'the connection to fail')
  // unhandledRejection is reported once the microtask queue drains: a macrotask later at most.
  await new Promise((resolve) => setImmediate(resolve))
  t.deepEqual(unhandled, [])
})
