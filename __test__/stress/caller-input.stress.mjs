// Bad input from the caller (the draft (whatwg/websockets#48): the WebIDL
// conversion of the constructor's and close(closeInfo)'s arguments, the
// stream algorithms "write", "cancel" and "close using reason";
// docs/design.md "Errors"): wrong types, out-of-range values and hostile
// objects (getters that throw, toString that returns an object, Proxies,
// re-entrant callbacks) for every method and option, and calls in every
// state, with locked streams and locks released mid-operation. What the
// conversion throws must be the caller's own exception or a TypeError,
// nothing must connect when the constructor throws, and nothing may crash
// the process or leave a promise pending.
import test from 'ava'
import { setTimeout as delay } from 'node:timers/promises'
import { WebSocketStream, WebSocketError } from '../../index.mjs'
import { acceptHandshake, closeFrame, OPCODE, readFrames } from '../helpers/raw-server.mjs'
import { rejectionOf, withTimeout } from '../helpers/settle.mjs'
import { assertTypeError, thrownBy } from '../helpers/errors.mjs'
import {
  clientWithStalledWrite,
  openedClientFor as openStream,
  openedRawClientFor,
  rawServerFor,
  recordingServer as echoServer,
} from '../helpers/fixtures.mjs'
import { MiB, observed, settlement, standing } from './support/checks.mjs'

const boom = () => new Error('boom from the caller')

/** A raw TCP server that counts connection attempts, to prove that nothing connected. */
async function countingServer(t) {
  let connections = 0
  const server = await rawServerFor(t, (socket) => {
    connections++
    socket.destroy()
  })
  return {
    url: server.url,
    async assertNoConnection() {
      // A connection never attempted has no event to wait for: give one 100 ms to show.
      await delay(100)
      t.is(connections, 0, 'no connection was attempted')
    },
  }
}

function assertThrowsItself(t, fn, error, label) {
  t.is(thrownBy(t, fn, label), error, `${label}: the caller's own exception propagates`)
}

function assertThrowsTypeError(t, fn, label) {
  assertTypeError(t, thrownBy(t, fn, label), label)
}

// --- the constructor -----------------------------------------------------------

test('url: a Symbol, a null-prototype object and a toString returning an object are TypeErrors; a throwing toString or Proxy trap propagates; nothing connects', async (t) => {
  const server = await countingServer(t)
  assertThrowsTypeError(t, () => new WebSocketStream(Symbol('url')), 'a Symbol')
  assertThrowsTypeError(t, () => new WebSocketStream(Object.create(null)), 'a null-prototype object')
  assertThrowsTypeError(
    t,
    () => new WebSocketStream({ toString: () => ({}), valueOf: () => ({}) }),
    'toString returning an object',
  )
  const error = boom()
  assertThrowsItself(
    t,
    () =>
      new WebSocketStream({
        toString() {
          throw error
        },
      }),
    error,
    'a throwing toString',
  )
  assertThrowsItself(
    t,
    () =>
      new WebSocketStream(
        new Proxy(
          {},
          {
            get() {
              throw error
            },
          },
        ),
      ),
    error,
    'a Proxy whose get trap throws',
  )
  // A throwing url conversion wins over a bad options argument: arguments convert in order.
  assertThrowsItself(
    t,
    () =>
      new WebSocketStream(
        {
          toString() {
            throw error
          },
        },
        true,
      ),
    error,
    'url before options',
  )
  await server.assertNoConnection()
})

for (const member of ['protocols', 'signal', 'headers', 'maxMessageSize', 'proxy', 'tls']) {
  test(`options.${member}: a getter that throws propagates its exception and nothing connects`, async (t) => {
    const server = await countingServer(t)
    const error = boom()
    const options = Object.defineProperty({}, member, {
      get() {
        throw error
      },
      enumerable: true,
    })
    assertThrowsItself(t, () => new WebSocketStream(server.url, options), error, `options.${member}`)
    await server.assertNoConnection()
  })
}

test('options: each member is read once, protocols before signal; a Proxy whose traps throw propagates', async (t) => {
  const server = await echoServer(t)
  const reads = []
  const options = new Proxy(
    {},
    {
      get(target, key) {
        reads.push(String(key))
        return undefined
      },
    },
  )
  const { wss } = await openStream(t, server.url, options)
  const counts = {}
  for (const key of reads) counts[key] = (counts[key] ?? 0) + 1
  for (const [key, count] of Object.entries(counts)) t.is(count, 1, `options.${key} read ${count} times`)
  t.true(reads.includes('protocols') && reads.includes('signal'))
  t.true(reads.indexOf('protocols') < reads.indexOf('signal'), `read order: ${reads.join(', ')}`)
  wss.close()
  const error = boom()
  for (const trap of ['get', 'has', 'ownKeys', 'getOwnPropertyDescriptor']) {
    const hostile = new Proxy(
      {},
      {
        [trap]() {
          throw error
        },
      },
    )
    const outcome = (() => {
      try {
        const other = new WebSocketStream('ws://127.0.0.1:1/', hostile)
        other.close()
        return 'constructed'
      } catch (caught) {
        return caught
      }
    })()
    t.true(outcome === error || outcome === 'constructed', `a throwing ${trap} trap propagates or is not used`)
  }
})

test('protocols: a throwing iterator, a throwing element and a Symbol element fail; a Proxy array and a generator work', async (t) => {
  const server = await countingServer(t)
  const error = boom()
  const throwingIterable = {
    *[Symbol.iterator]() {
      yield 'a'
      throw error
    },
  }
  assertThrowsItself(
    t,
    () => new WebSocketStream(server.url, { protocols: throwingIterable }),
    error,
    'a throwing iterator',
  )
  assertThrowsItself(
    t,
    () =>
      new WebSocketStream(server.url, {
        protocols: [
          'a',
          {
            toString() {
              throw error
            },
          },
        ],
      }),
    error,
    'an element whose toString throws',
  )
  assertThrowsTypeError(t, () => new WebSocketStream(server.url, { protocols: ['a', Symbol('b')] }), 'a Symbol element')
  assertThrowsTypeError(
    t,
    () => new WebSocketStream(server.url, { protocols: { [Symbol.iterator]: 1 } }),
    'a non-callable @@iterator',
  )
  assertThrowsTypeError(
    t,
    () => new WebSocketStream(server.url, { protocols: { [Symbol.iterator]: () => 1 } }),
    'an iterator that is not an object',
  )
  await server.assertNoConnection()

  const echo = await echoServer(t, { handleProtocols: (offered) => [...offered][0] })
  const viaProxy = await openStream(t, echo.url, { protocols: new Proxy(['chat', 'superchat'], {}) })
  t.is(viaProxy.protocol, 'chat')
  viaProxy.wss.close()
})

test('signal: a look-alike, an EventTarget and null are TypeErrors; a Proxy around an AbortSignal is refused or works as that signal', async (t) => {
  const server = await countingServer(t)
  assertThrowsTypeError(
    t,
    () => new WebSocketStream(server.url, { signal: Object.create(AbortSignal.prototype) }),
    'a look-alike',
  )
  assertThrowsTypeError(t, () => new WebSocketStream(server.url, { signal: new EventTarget() }), 'an EventTarget')
  assertThrowsTypeError(t, () => new WebSocketStream(server.url, { signal: null }), 'null')
  await server.assertNoConnection()
  // WebIDL would refuse a Proxy (not a platform object); Node's own brand
  // checks see through it. Either way it must not half-work.
  const stalled = await rawServerFor(t, (socket) => socket.resume())
  const controller = new AbortController()
  let wss
  try {
    wss = new WebSocketStream(stalled.url, { signal: new Proxy(controller.signal, {}) })
  } catch (error) {
    t.true(error instanceof TypeError, 'refused with a TypeError')
    return
  }
  const reason = new Error('aborted through the Proxy')
  controller.abort(reason)
  t.is(await rejectionOf(wss.opened, 5000), reason, 'or it aborts the handshake like the signal itself')
})

test('Node options with hostile values: throwing getters and toString propagate, wrong types are TypeErrors, nothing connects', async (t) => {
  const server = await countingServer(t)
  const error = boom()
  const cases = [
    [
      'a throwing header getter',
      {
        headers: {
          get 'x-a'() {
            throw error
          },
        },
      },
      error,
    ],
    [
      'a header value whose toString throws',
      {
        headers: {
          'x-a': {
            toString() {
              throw error
            },
          },
        },
      },
      error,
    ],
    [
      'a header name whose toString throws',
      {
        headers: [
          [
            {
              toString() {
                throw error
              },
            },
            'v',
          ],
        ],
      },
      error,
    ],
    [
      'a header value whose toString returns an object',
      { headers: [['x-a', { toString: () => ({}), valueOf: () => ({}) }]] },
      TypeError,
    ],
    ['headers as a Symbol', { headers: Symbol('h') }, TypeError],
    ['a pair that is a string', { headers: ['ab'] }, TypeError],
    [
      'a throwing tls.ca getter',
      {
        tls: {
          get ca() {
            throw error
          },
        },
      },
      error,
    ],
    ['tls.rejectUnauthorized as a string', { tls: { rejectUnauthorized: 'no' } }, TypeError],
    ['tls.ca as a number', { tls: { ca: 42 } }, TypeError],
    ['tls as a number', { tls: 1 }, TypeError],
    ['maxMessageSize as a BigInt', { maxMessageSize: 10n }, TypeError],
    ['maxMessageSize Infinity', { maxMessageSize: Infinity }, TypeError],
    ['maxMessageSize as an object with valueOf', { maxMessageSize: { valueOf: () => 1000 } }, TypeError],
    // A Node option, not WebIDL: the caller's exception or a TypeError naming the option.
    [
      'a proxy whose toString throws',
      {
        proxy: {
          toString() {
            throw error
          },
        },
      },
      [error, /options\.proxy/],
    ],
    ['a proxy of another scheme', { proxy: 'socks5://127.0.0.1:1080' }, TypeError],
  ]
  for (const [label, options, expected] of cases) {
    if (expected === TypeError) assertThrowsTypeError(t, () => new WebSocketStream(server.url, options), label)
    else if (Array.isArray(expected)) {
      const error = thrownBy(t, () => new WebSocketStream(server.url, options), label)
      t.true(
        error === expected[0] || (error instanceof TypeError && expected[1].test(error.message)),
        `${label}: ${error?.message}`,
      )
    } else assertThrowsItself(t, () => new WebSocketStream(server.url, options), expected, label)
  }
  await server.assertNoConnection()
})

test('huge inputs (a 1 MiB path, 10,000 protocols, a 1 MiB header) fail cleanly or connect, and never crash or hang', async (t) => {
  const server = await echoServer(t)
  const protocols = Array.from({ length: 10_000 }, (_, i) => `p${i}`)
  const inputs = [
    ['a 1 MiB path', `${server.url}${'a'.repeat(MiB)}`, {}],
    ['10,000 protocols', server.url, { protocols }],
    ['a 1 MiB header', server.url, { headers: { 'x-big': 'v'.repeat(MiB) } }],
  ]
  for (const [label, url, options] of inputs) {
    let wss
    try {
      wss = new WebSocketStream(url, options)
    } catch (error) {
      t.true(error instanceof TypeError || error?.name === 'SyntaxError', `${label}: thrown ${error?.name}`)
      continue
    }
    const opened = await settlement(wss.opened, 10_000, `${label}: opened`)
    if (opened.status === 'rejected') {
      t.true(opened.reason instanceof WebSocketError, `${label}: opened rejects with a WebSocketError`)
      t.is((await rejectionOf(wss.closed, 5000))?.closeCode, 1006)
      t.log(`${label}: ${opened.reason.message.replace(/(.)\1{40,}/g, '$1…').slice(0, 160)}`)
    } else {
      wss.close()
      t.deepEqual(await withTimeout(wss.closed, 10_000, `${label}: closed`), { closeCode: 1005, reason: '' })
      t.log(`${label}: connected`)
    }
  }
  const { wss, readable, writable } = await openStream(t, server.url)
  await writable.getWriter().write('healthy')
  t.is((await withTimeout(readable.getReader().read(), 5000, 'echo')).value, 'healthy')
  wss.close()
})

// --- close() with hostile arguments, in every state -------------------------------

function hostileCloseInfos() {
  const error = boom()
  return [
    [
      'a throwing closeCode getter',
      {
        get closeCode() {
          throw error
        },
      },
      error,
    ],
    [
      'a throwing reason getter',
      {
        closeCode: 1000,
        get reason() {
          throw error
        },
      },
      error,
    ],
    [
      'a Proxy whose get trap throws',
      new Proxy(
        {},
        {
          get() {
            throw error
          },
        },
      ),
      error,
    ],
    [
      'a closeCode whose valueOf throws',
      {
        closeCode: {
          valueOf() {
            throw error
          },
        },
      },
      error,
    ],
    [
      'a reason whose toString throws',
      {
        closeCode: 1000,
        reason: {
          toString() {
            throw error
          },
        },
      },
      error,
    ],
    ['a Symbol closeCode', { closeCode: Symbol('c') }, TypeError],
    ['a BigInt closeCode', { closeCode: 1000n }, TypeError],
    ['a closeCode whose valueOf gives 70000', { closeCode: { valueOf: () => 70000 } }, TypeError],
    [
      'a reason whose toString returns an object',
      { closeCode: 1000, reason: { toString: () => ({}), valueOf: () => ({}) } },
      TypeError,
    ],
    ['a Symbol reason', { closeCode: 1000, reason: Symbol('r') }, TypeError],
  ]
}

function assertHostileCloses(t, wss) {
  for (const [label, closeInfo, expected] of hostileCloseInfos()) {
    if (expected === TypeError) assertThrowsTypeError(t, () => wss.close(closeInfo), label)
    else assertThrowsItself(t, () => wss.close(closeInfo), expected, label)
  }
  // WebIDL reads dictionary members once each, in order: closeCode, then reason.
  const reads = []
  const recording = new Proxy(
    { closeCode: 999, reason: 'x' },
    {
      get(target, key) {
        reads.push(String(key))
        return target[key]
      },
    },
  )
  const error = thrownBy(t, () => wss.close(recording), 'closeCode 999')
  t.is(error?.name, 'InvalidAccessError')
  t.deepEqual(
    reads.filter((key) => key === 'closeCode' || key === 'reason'),
    ['closeCode', 'reason'],
    'closeCode then reason, each read once',
  )
}

test('close() with hostile arguments while connecting throws the right exception each time and the handshake still completes', async (t) => {
  let accept
  const accepted = new Promise((resolve) => (accept = resolve))
  const server = await rawServerFor(t, (socket) => accept(socket))
  const wss = new WebSocketStream(server.url)
  t.teardown(() => wss.close())
  const socket = await withTimeout(accepted, 5000, 'the TCP connection')
  assertHostileCloses(t, wss)
  await acceptHandshake(socket)
  await t.notThrowsAsync(withTimeout(wss.opened, 5000, 'opened'))
})

test('close() with hostile arguments while open throws the right exception each time and the connection keeps echoing', async (t) => {
  const server = await echoServer(t)
  const { wss, readable, writable } = await openStream(t, server.url)
  assertHostileCloses(t, wss)
  await writable.getWriter().write('still open')
  t.is((await withTimeout(readable.getReader().read(), 5000, 'echo')).value, 'still open')
  wss.close({ closeCode: 4000, reason: 'bye' })
  t.deepEqual(await withTimeout(wss.closed, 5000, 'closed'), { closeCode: 4000, reason: 'bye' })
})

test('close() with hostile arguments while closing throws the right exception each time and the close goes on unchanged', async (t) => {
  const { socket, frames, wss } = await openedRawClientFor(t)
  wss.close({ closeCode: 4001, reason: 'first' })
  const sent = await frames.closeFrame(5000)
  assertHostileCloses(t, wss)
  t.deepEqual([sent.code, sent.reason], [4001, 'first'])
  socket.end(closeFrame(4001, 'first'))
  t.deepEqual(await withTimeout(wss.closed, 5000, 'closed'), { closeCode: 4001, reason: 'first' })
  t.is(frames.frames.filter((frame) => frame.opcode === OPCODE.CLOSE).length, 1, 'one Close was sent')
})

test('close() with hostile arguments after the connection closed throws the right exception each time', async (t) => {
  const server = await echoServer(t)
  const { wss } = await openStream(t, server.url)
  wss.close()
  await withTimeout(wss.closed, 5000, 'closed')
  assertHostileCloses(t, wss)
})

test('new WebSocketError with hostile arguments propagates the exceptions and converts in order', (t) => {
  const error = boom()
  assertThrowsItself(
    t,
    () =>
      new WebSocketError({
        toString() {
          throw error
        },
      }),
    error,
    'a message whose toString throws',
  )
  assertThrowsTypeError(t, () => new WebSocketError(Symbol('m')), 'a Symbol message')
  for (const [label, init, expected] of hostileCloseInfos()) {
    if (expected === TypeError) assertThrowsTypeError(t, () => new WebSocketError('m', init), label)
    else assertThrowsItself(t, () => new WebSocketError('m', init), expected, label)
  }
  // The message converts before the init dictionary.
  assertThrowsItself(
    t,
    () =>
      new WebSocketError(
        {
          toString() {
            throw error
          },
        },
        { closeCode: Symbol('x') },
      ),
    error,
    'message first',
  )
})

// --- streams in every state, locks and concurrency ----------------------------------

test('a second getReader() or getWriter() while locked is a TypeError and the first reader and writer keep working', async (t) => {
  const server = await echoServer(t)
  const { wss, readable, writable } = await openStream(t, server.url)
  const reader = readable.getReader()
  const writer = writable.getWriter()
  assertThrowsTypeError(t, () => readable.getReader(), 'a second reader')
  assertThrowsTypeError(t, () => writable.getWriter(), 'a second writer')
  t.true((await rejectionOf(readable.cancel(), 5000)) instanceof TypeError, 'cancel() on a locked readable')
  t.true((await rejectionOf(writable.abort(), 5000)) instanceof TypeError, 'abort() on a locked writable')
  t.true((await rejectionOf(writable.close(), 5000)) instanceof TypeError, 'close() on a locked writable')
  await writer.write('after the refusals')
  t.is((await withTimeout(reader.read(), 5000, 'echo')).value, 'after the refusals')
  wss.close()
})

test('reads and writes issued concurrently: 3 pending reads get 3 consecutive messages, 200 unawaited writes arrive in order', async (t) => {
  const server = await echoServer(t)
  const { wss, readable, writable } = await openStream(t, server.url)
  const reader = readable.getReader()
  const writer = writable.getWriter()
  const reads = [reader.read(), reader.read(), reader.read()]
  const writes = Array.from({ length: 200 }, (_, i) =>
    writer.write(i % 2 ? `text ${i}` : new Uint8Array([i & 0xff, i >> 8])),
  )
  await withTimeout(Promise.all(writes), 10_000, '200 writes')
  const first = await withTimeout(Promise.all(reads), 5000, 'the 3 pending reads')
  t.deepEqual(
    first.map(({ value }) => value),
    [new Uint8Array([0, 0]), 'text 1', new Uint8Array([2, 0])],
  )
  for (let i = 3; i < 200; i++) {
    const { value } = await withTimeout(reader.read(), 5000, `echo ${i}`)
    t.deepEqual(value, i % 2 ? `text ${i}` : new Uint8Array([i & 0xff, i >> 8]))
  }
  t.is(server.messages.length, 200)
  wss.close()
})

test('releasing the reader lock with a read pending rejects that read with a TypeError and loses no message', async (t) => {
  const server = await echoServer(t)
  const { wss, readable, writable } = await openStream(t, server.url)
  const writer = writable.getWriter()
  for (let round = 0; round < 20; round++) {
    const reader = readable.getReader()
    const pending = reader.read()
    reader.releaseLock()
    t.true(
      (await rejectionOf(pending, 5000)) instanceof TypeError,
      `round ${round}: the pending read rejects with a TypeError`,
    )
    await writer.write(`message ${round}`)
  }
  const reader = readable.getReader()
  for (let round = 0; round < 20; round++) {
    t.is((await withTimeout(reader.read(), 5000, 'read')).value, `message ${round}`, 'every message, once, in order')
  }
  wss.close()
  t.deepEqual(await withTimeout(reader.read(), 5000, 'done'), { value: undefined, done: true })
})

test('releasing the writer lock with an 8 MiB write pending: the write still completes and a new writer’s message follows it', async (t) => {
  const { socket, writable, writer, pendingWrite: big } = await clientWithStalledWrite(t)
  writer.releaseLock()
  t.true((await rejectionOf(writer.closed, 5000)) instanceof TypeError, 'the released writer is done')
  const next = writable.getWriter()
  const after = next.write('after the release')
  const frames = readFrames(socket)
  await withTimeout(big, 10_000, 'the 8 MiB write once the server reads')
  await withTimeout(after, 10_000, 'the next write')
  const text = await frames.waitFor((frame) => frame.opcode === OPCODE.TEXT, 10_000, 'the text message')
  t.is(text.payload.toString(), 'after the release')
  const binary = frames.frames.filter((frame) => frame.opcode === OPCODE.BINARY)
  t.is(binary.length, 1)
  t.is(binary[0].payload.length, 8 * MiB)
  t.true(frames.frames.indexOf(binary[0]) < frames.frames.indexOf(text), 'in order')
})

test('cancel() with reads pending resolves them with done and closes the connection cleanly', async (t) => {
  const server = await echoServer(t)
  const { wss, readable } = await openStream(t, server.url)
  const reader = readable.getReader()
  const pending = [reader.read(), reader.read()]
  await withTimeout(reader.cancel(new WebSocketError('', { closeCode: 4002, reason: 'cancelled' })), 5000, 'cancel')
  t.deepEqual(await withTimeout(Promise.all(pending), 5000, 'pending reads'), [
    { value: undefined, done: true },
    { value: undefined, done: true },
  ])
  t.deepEqual(await withTimeout(wss.closed, 5000, 'closed'), { closeCode: 4002, reason: 'cancelled' })
})

test('writer.abort() with a write pending against a server that does not read resolves at once and ends the connection', async (t) => {
  const { wss, writer, pendingWrite: big } = await clientWithStalledWrite(t)
  const since = performance.now()
  const abort = await standing(writer.abort(new WebSocketError('', { closeCode: 4003 })), 2000)
  t.is(
    abort.status,
    'fulfilled',
    `abort() is ${abort.status} after 2 s ("close using reason" does not wait for the closing handshake)`,
  )
  // Our Close waits behind the 8 MiB the server never takes: the close timeout ends it.
  const closed = await standing(wss.closed, 10_000)
  t.is(closed.status, 'rejected', `closed is ${closed.status} 12 s after abort(): an unclean close was due`)
  t.is((await standing(big, 1000)).status, 'rejected', 'the pending write rejects')
  t.log(`abort() ${abort.status}, closed ${closed.status}, ${(performance.now() - since).toFixed(0)} ms after abort()`)
})

test('readable.pipeTo(its own writable) through an echo server, stopped by an AbortSignal mid-flight, rejects with the reason and closes the connection', async (t) => {
  const server = await echoServer(t)
  const { wss, readable, writable } = await openStream(t, server.url)
  const seed = writable.getWriter()
  await seed.write('round and round')
  seed.releaseLock()
  const controller = new AbortController()
  const piping = observed(readable.pipeTo(writable, { signal: controller.signal }))
  await server.until(() => server.messages.length > 50, 10_000, 'the message to go round 50 times')
  const reason = new Error('enough')
  controller.abort(reason)
  t.is(await rejectionOf(piping, 5000), reason, 'pipeTo rejects with the abort reason')
  const closed = await settlement(wss.closed, 10_000, 'closed')
  t.is(closed.status, 'fulfilled', 'the connection closes cleanly')
  t.is(closed.value.closeCode, 1005)
})

test('tee(): both branches get every message; cancelling one keeps the other, cancelling both closes the connection', async (t) => {
  const server = await echoServer(t)
  const { wss, readable, writable } = await openStream(t, server.url)
  const [left, right] = readable.tee()
  const writer = writable.getWriter()
  const leftReader = left.getReader()
  const rightReader = right.getReader()
  for (let i = 0; i < 5; i++) await writer.write(`m${i}`)
  for (let i = 0; i < 5; i++) t.is((await withTimeout(leftReader.read(), 5000, 'left')).value, `m${i}`)
  // A branch's cancel() settles once both branches are cancelled (Streams tee).
  const leftCancelled = leftReader.cancel()
  await writer.write('m5')
  for (let i = 0; i < 6; i++) t.is((await withTimeout(rightReader.read(), 5000, 'right')).value, `m${i}`)
  await withTimeout(Promise.all([leftCancelled, rightReader.cancel()]), 5000, 'both branches cancelled')
  t.deepEqual(await withTimeout(wss.closed, 5000, 'closed'), { closeCode: 1005, reason: '' })
})

test('a chunk whose toString calls close(): the write resolves, its text is never sent, and the connection closes cleanly', async (t) => {
  const server = await echoServer(t)
  const { wss, writable } = await openStream(t, server.url)
  const writer = writable.getWriter()
  await writer.write('before')
  const reentrant = {
    toString() {
      wss.close({ closeCode: 4004, reason: 'from toString' })
      return 'never sent'
    },
  }
  t.is(await withTimeout(writer.write(reentrant), 5000, 'the re-entrant write'), undefined)
  t.deepEqual(await withTimeout(wss.closed, 5000, 'closed'), { closeCode: 4004, reason: 'from toString' })
  t.deepEqual(
    server.messages.map(({ data }) => data.toString()),
    ['before'],
    'only the message before close() reached the server',
  )
})

test('a chunk whose toString writes again: both messages go out, the outer one first', async (t) => {
  const server = await echoServer(t)
  const { wss, readable, writable } = await openStream(t, server.url)
  const writer = writable.getWriter()
  let nested
  const outer = {
    toString() {
      nested = writer.write('inner')
      return 'outer'
    },
  }
  await withTimeout(writer.write(outer), 5000, 'outer')
  await withTimeout(nested, 5000, 'inner')
  const reader = readable.getReader()
  t.is((await withTimeout(reader.read(), 5000, 'first')).value, 'outer')
  t.is((await withTimeout(reader.read(), 5000, 'second')).value, 'inner')
  wss.close()
})

test('a detached ArrayBuffer and a view on one are sent as empty binary messages (WebIDL: a detached buffer holds no bytes)', async (t) => {
  const server = await echoServer(t)
  const { wss, readable, writable } = await openStream(t, server.url)
  const writer = writable.getWriter()
  const reader = readable.getReader()
  const buffer = new ArrayBuffer(8)
  const view = new Uint8Array(buffer, 2, 4)
  structuredClone(buffer, { transfer: [buffer] })
  t.is(buffer.byteLength, 0, 'detached')
  for (const [label, chunk] of [
    ['the detached ArrayBuffer', buffer],
    ['a view on it', view],
  ]) {
    const write = await settlement(writer.write(chunk), 5000, label)
    t.is(write.status, 'fulfilled', `${label}: the write resolves (${write.reason?.message ?? ''})`)
    if (write.status !== 'fulfilled') return
    const { value } = await withTimeout(reader.read(), 5000, `${label}: echo`)
    t.true(value instanceof Uint8Array && value.byteLength === 0, `${label}: an empty binary message`)
  }
  wss.close()
})

test('a view with lying buffer, byteOffset and byteLength properties is sent as its real bytes', async (t) => {
  const server = await echoServer(t)
  const { wss, readable, writable } = await openStream(t, server.url)
  const writer = writable.getWriter()
  const reader = readable.getReader()
  const error = boom()
  const lies = [
    ['buffer', { value: new Uint8Array([9, 9, 9]).buffer }],
    ['byteLength', { value: 1e9 }],
    ['byteOffset', { value: 2 }],
    [
      'buffer',
      {
        get() {
          throw error
        },
      },
    ],
  ]
  for (const [property, descriptor] of lies) {
    const view = new Uint8Array([1, 2, 3])
    Object.defineProperty(view, property, descriptor)
    const write = await settlement(writer.write(view), 5000, property)
    t.is(write.status, 'fulfilled', `a lying ${property}: the write resolves (${write.reason?.message ?? ''})`)
    if (write.status !== 'fulfilled') return
    const { value } = await withTimeout(reader.read(), 5000, 'echo')
    t.deepEqual(value, new Uint8Array([1, 2, 3]), `a lying ${property}: the view's own bytes are sent`)
  }
  wss.close()
})

test('every stream method on a cleanly closed connection settles at once: reads done, writes rejected, cancel and abort resolved', async (t) => {
  const server = await echoServer(t)
  const { wss, readable, writable } = await openStream(t, server.url)
  const reader = readable.getReader()
  const writer = writable.getWriter()
  wss.close({ closeCode: 1000 })
  // While closing: writes resolve and are dropped.
  t.is(await withTimeout(writer.write('dropped'), 5000, 'a write while closing'), undefined)
  await withTimeout(wss.closed, 5000, 'closed')
  t.deepEqual(await withTimeout(reader.read(), 5000, 'read'), { value: undefined, done: true })
  const writeError = await rejectionOf(writer.write('late'), 5000)
  t.is(writeError?.name, 'InvalidStateError', 'a write after the close rejects with InvalidStateError')
  t.true(
    (await rejectionOf(writer.close(), 5000)) instanceof TypeError,
    'writer.close() on an errored stream rejects with a TypeError (Streams)',
  )
  t.is(await withTimeout(writer.abort(), 5000, 'abort'), undefined)
  t.is(await withTimeout(reader.cancel(), 5000, 'cancel'), undefined)
  reader.releaseLock()
  writer.releaseLock()
  t.deepEqual(await withTimeout(readable.getReader().read(), 5000, 'a new reader'), { value: undefined, done: true })
  t.is(await rejectionOf(writable.getWriter().write('x'), 5000), writeError, 'a new writer sees the same error')
  t.notThrows(() => wss.close())
  t.is(server.messages.length, 0, 'nothing was sent after close()')
})
