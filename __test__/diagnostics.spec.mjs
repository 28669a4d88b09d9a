// diagnostics_channel events (README "Tracing with diagnostics_channel"):
// websocketstream:open, websocketstream:close and websocketstream:error, with
// their documented fields, exactly once each and in order;
// websocketstream:ping and websocketstream:pong for each control frame
// received; and nothing built while a channel has no subscriber.
import test from 'ava'
import diagnosticsChannel from 'node:diagnostics_channel'
import { createRequire } from 'node:module'
import { WebSocketStream } from '../index.mjs'
import { clientFor, wsServerFor } from './helpers/fixtures.mjs'
import { refusedPort } from './helpers/servers.mjs'
import { eventually, rejectionOf, withTimeout } from './helpers/settle.mjs'

const NAMES = ['open', 'close', 'error', 'ping', 'pong']
// The addon as the wrapper loaded it (one module instance for both).
const native = createRequire(import.meta.url)('../lib/native.js')

/**
 * Records every event of the three channels whose url starts with `prefix`
 * (each test uses its own path, so tests running side by side do not mix),
 * as `[name, message]`, until teardown.
 */
function recordEvents(t, prefix) {
  const events = []
  for (const name of NAMES) {
    const listener = (message) => {
      if (message.url.startsWith(prefix)) events.push([name, message])
    }
    diagnosticsChannel.subscribe(`websocketstream:${name}`, listener)
    t.teardown(() => diagnosticsChannel.unsubscribe(`websocketstream:${name}`, listener))
  }
  return events
}

test('each connection publishes one open, then one close, with the documented fields', async (t) => {
  const peer = await wsServerFor(t)
  const prefix = `${peer.url}each-connection`
  const events = recordEvents(t, prefix)
  for (let i = 0; i < 3; i++) {
    const url = `${prefix}/${i}`
    const wss = clientFor(t, url)
    const { writable } = await withTimeout(wss.opened, 5000, 'opened')
    await writable.getWriter().write('ping')
    wss.close({ closeCode: 4000 + i, reason: `bye ${i}` })
    await withTimeout(wss.closed, 5000, 'closed')
  }
  t.deepEqual(
    events.map(([name, message]) => `${name} ${message.url}`),
    [0, 1, 2].flatMap((i) => [`open ${prefix}/${i}`, `close ${prefix}/${i}`]),
  )
  for (const [name, message] of events) {
    if (name === 'open') {
      t.like(message, { protocol: '', extensions: '', remoteAddress: '127.0.0.1', remotePort: peer.port })
      t.true(message.handshakeDurationMs > 0 && message.handshakeDurationMs < 5000, 'a handshake duration in ms')
    } else {
      const i = Number(message.url.at(-1))
      t.deepEqual(message, { url: message.url, code: 4000 + i, reason: `bye ${i}`, wasClean: true })
    }
  }
})

test('an unclean close is published with wasClean false and 1006', async (t) => {
  const peer = await wsServerFor(t, (socket) => socket.terminate())
  const prefix = `${peer.url}unclean`
  const events = recordEvents(t, prefix)
  const wss = clientFor(t, prefix)
  await withTimeout(wss.opened, 5000, 'opened').catch(() => {})
  await rejectionOf(wss.closed, 5000, 'closed')
  const closes = events.filter(([name]) => name === 'close').map(([, message]) => message)
  const errors = events.filter(([name]) => name === 'error')
  // The server may end TCP before or after our handshake completed.
  if (closes.length > 0) {
    t.deepEqual(closes, [{ url: prefix, code: 1006, reason: '', wasClean: false }])
    t.is(errors.length, 0)
  } else {
    t.is(errors.length, 1)
  }
})

test('a connection that fails before opening publishes one error and no open or close', async (t) => {
  const prefix = `ws://127.0.0.1:${await refusedPort()}/refused`
  const events = recordEvents(t, prefix)
  const wss = new WebSocketStream(prefix)
  const openedError = await rejectionOf(wss.opened, 5000, 'opened')
  await rejectionOf(wss.closed, 5000, 'closed')
  t.is(events.length, 1)
  const [[name, message]] = events
  t.is(name, 'error')
  t.is(message.url, prefix)
  t.is(message.error, openedError, 'the error is what opened rejected with')
})

test('an aborted handshake publishes one error with the abort reason', async (t) => {
  const prefix = 'ws://127.0.0.1:9/aborted'
  const events = recordEvents(t, prefix)
  const reason = new Error('gave up')
  const wss = new WebSocketStream(prefix, { signal: AbortSignal.abort(reason) })
  t.is(await rejectionOf(wss.opened, 5000, 'opened'), reason)
  t.deepEqual(events, [['error', { url: prefix, error: reason }]])
})

// Serial: the channels' publish methods are replaced for its duration, and
// another test's subscriber would make them run.
test.serial('without a subscriber nothing is published, so no message is built', async (t) => {
  const channels = NAMES.map((name) => diagnosticsChannel.channel(`websocketstream:${name}`))
  let published = 0
  // An own property over the prototype's publish (which Node swaps as
  // subscribers come and go); deleting it at teardown restores Node's.
  for (const channel of channels) {
    channel.publish = () => {
      published++
    }
  }
  t.teardown(() => {
    for (const channel of channels) delete channel.publish
  })
  const peer = await wsServerFor(t)
  const connectAndClose = async (path) => {
    const wss = clientFor(t, `${peer.url}${path}`)
    await withTimeout(wss.opened, 5000, 'opened')
    wss.close()
    await withTimeout(wss.closed, 5000, 'closed')
  }
  await connectAndClose('quiet')
  t.is(published, 0, 'nothing was published without a subscriber')
  // The hook is live: with a subscriber the same connection publishes twice.
  const listener = () => {}
  diagnosticsChannel.subscribe('websocketstream:open', listener)
  diagnosticsChannel.subscribe('websocketstream:close', listener)
  t.teardown(() => {
    diagnosticsChannel.unsubscribe('websocketstream:open', listener)
    diagnosticsChannel.unsubscribe('websocketstream:close', listener)
  })
  await connectAndClose('heard')
  t.is(published, 2)
})

/** A `ws` server that sends each client Pings 'a' and 'b', a Pong 'c', then the text 'done'. */
function controlFrameServer(t) {
  return wsServerFor(t, (socket) => {
    socket.ping('a')
    socket.ping('b')
    socket.pong('c')
    socket.send('done')
  })
}

/** Opens `url`, reads its first message and returns it with the connection. */
async function readFirstMessage(t, url, options) {
  const wss = clientFor(t, url, options)
  const { readable } = await withTimeout(wss.opened, 5000, 'opened')
  const reader = readable.getReader()
  const { value } = await withTimeout(reader.read(), 5000, 'the first message')
  reader.releaseLock()
  return { wss, value }
}

test("each Ping and Pong received is published in order with url and payload, the idle timer's answered Ping too", async (t) => {
  const peer = await controlFrameServer(t)
  const url = `${peer.url}control-frames`
  const events = recordEvents(t, url)
  // The idle timer's Ping goes out after 150 quiet ms; ws answers it with an empty Pong.
  const { wss, value } = await readFirstMessage(t, url, { idleTimeout: 150 })
  t.is(value, 'done')
  const controlFrames = () => events.filter(([name]) => name === 'ping' || name === 'pong')
  await eventually(() => controlFrames().length >= 4, 5000, 'the idle Ping answered')
  const frames = controlFrames().map(([name, message]) => [name, message.url, Buffer.from(message.payload).toString()])
  t.deepEqual(frames.slice(0, 4), [
    ['ping', url, 'a'],
    ['ping', url, 'b'],
    ['pong', url, 'c'],
    ['pong', url, ''],
  ])
  t.true(events.every(([, message]) => !('payload' in message) || message.payload instanceof Uint8Array))
  wss.close()
  await withTimeout(wss.closed, 5000, 'closed')
})

// Serial: the addon's connect is wrapped for its duration, and another test's
// subscriber would ask for control frames.
test.serial('without a ping or pong subscriber no control frame crosses from the native side', async (t) => {
  const realConnect = native.connect
  const reported = []
  native.connect = (options, onEvent) =>
    realConnect(options, (event) => {
      if (event[0] === native.EventKind.Ping || event[0] === native.EventKind.Pong) reported.push(event)
      onEvent(event)
    })
  t.teardown(() => {
    native.connect = realConnect
  })
  const peer = await controlFrameServer(t)
  const quiet = await readFirstMessage(t, `${peer.url}quiet`)
  t.is(quiet.value, 'done')
  quiet.wss.close()
  await withTimeout(quiet.wss.closed, 5000, 'closed')
  t.is(reported.length, 0, 'no Ping or Pong event without a subscriber')
  // The hook is live: with a subscriber to either channel, all three arrive.
  const listener = () => {}
  diagnosticsChannel.subscribe('websocketstream:pong', listener)
  t.teardown(() => diagnosticsChannel.unsubscribe('websocketstream:pong', listener))
  const heard = await readFirstMessage(t, `${peer.url}heard`)
  await eventually(() => reported.length === 3, 5000, 'the control frames reported')
  heard.wss.close()
  await withTimeout(heard.wss.closed, 5000, 'closed')
  t.deepEqual(
    reported.map(([kind, , , payload]) => [kind, Buffer.from(payload).toString()]),
    [
      [native.EventKind.Ping, 'a'],
      [native.EventKind.Ping, 'b'],
      [native.EventKind.Pong, 'c'],
    ],
  )
})
