// close(closeInfo): argument conversion and validation in every state, the
// Close frame it sends, and the code and reason that abort() and cancel()
// take from a WebSocketError (the draft (whatwg/websockets#48): the WebIDL
// conversion of WebSocketCloseInfo, close(closeInfo), "close using reason";
// docs/design.md "Decisions where the draft is silent").
import test from 'ava'
import { inspect } from 'node:util'
import { WebSocketStream, WebSocketError } from '../index.mjs'
import { acceptHandshake, readRequest } from './helpers/raw-server.mjs'
import { refusedPort } from './helpers/servers.mjs'
import { rejectionOf, withTimeout } from './helpers/settle.mjs'
import { assertDOMException, assertTypeError, thrownBy } from './helpers/errors.mjs'
import {
  clientFor as tracked,
  openedClientFor as openStream,
  openedRawClientFor,
  rawServerFor,
  recordingServer,
} from './helpers/fixtures.mjs'

/**
 * A server that reads the upgrade request and never answers it.
 * `request()` resolves once the request head has arrived, with `after` (the
 * chunks the client sends after the head) and `ended` (a promise of the TCP
 * connection's end).
 */
async function silentServer(t) {
  let arrived
  const request = new Promise((resolve) => (arrived = resolve))
  request.catch(() => {})
  const peer = await rawServerFor(t, (socket) => {
    const ended = new Promise((resolve) => socket.on('close', resolve))
    arrived(
      readRequest(socket).then(() => {
        const after = []
        socket.on('data', (chunk) => after.push(chunk))
        socket.resume()
        return { after, ended }
      }),
    )
  })
  return { url: peer.url, request: () => withTimeout(request, 5000, 'the upgrade request') }
}

// --- validation in every state -----------------------------------------------

/** Puts a stream in `state` and returns it. */
const states = {
  async connecting(t) {
    const { url } = await silentServer(t)
    return tracked(t, url)
  },
  async open(t) {
    const { url } = await recordingServer(t)
    return (await openStream(t, url)).wss
  },
  async closing(t) {
    const { url } = await recordingServer(t)
    const { wss } = await openStream(t, url)
    // Nothing from the server can be handled before the next macrotask, so
    // the stream stays CLOSING for the rest of this synchronous test body.
    wss.close()
    return wss
  },
  async closed(t) {
    const { url } = await recordingServer(t)
    const { wss } = await openStream(t, url)
    wss.close()
    await withTimeout(wss.closed, 5000, 'closed')
    return wss
  },
}

const closeTrueIsTypeError = test.macro({
  async exec(t, state) {
    const wss = await states[state](t)
    for (const closeInfo of [true, 1, 'x', Symbol('s')]) {
      assertTypeError(
        t,
        thrownBy(t, () => wss.close(closeInfo)),
        String(closeInfo),
      )
    }
  },
  title: (_, state) => `close(true) and other non-objects are TypeErrors while ${state}`,
})

const enforceRange = test.macro({
  async exec(t, state) {
    const wss = await states[state](t)
    for (const closeCode of [70000, 65536, -1, NaN, Infinity, -Infinity, 'abc']) {
      assertTypeError(
        t,
        thrownBy(t, () => wss.close({ closeCode })),
        String(closeCode),
      )
    }
  },
  title: (_, state) => `closeCode 70000, -1, NaN and infinities are TypeErrors ([EnforceRange]) while ${state}`,
})

const invalidAccess = test.macro({
  async exec(t, state) {
    const wss = await states[state](t)
    for (const closeCode of [0, 999, 1001, 1005, 1006, 2999, 5000, 65535]) {
      assertDOMException(
        t,
        thrownBy(t, () => wss.close({ closeCode })),
        'InvalidAccessError',
        String(closeCode),
      )
    }
  },
  title: (_, state) => `closeCode 0, 999, 1001, 1005, 2999, 5000 and 65535 are InvalidAccessErrors while ${state}`,
})

const reasonTooLong = test.macro({
  async exec(t, state) {
    const wss = await states[state](t)
    for (const reason of ['x'.repeat(124), '🔌'.repeat(31), 'é'.repeat(62)]) {
      assertDOMException(
        t,
        thrownBy(t, () => wss.close({ closeCode: 1000, reason })),
        'SyntaxError',
        `${reason.length} chars`,
      )
      assertDOMException(
        t,
        thrownBy(t, () => wss.close({ reason })),
        'SyntaxError',
        `${reason.length} chars, no code`,
      )
    }
  },
  title: (_, state) => `a reason over 123 UTF-8 bytes is a SyntaxError while ${state}`,
})

const codeBeforeReason = test.macro({
  async exec(t, state) {
    const wss = await states[state](t)
    const error = thrownBy(t, () => wss.close({ closeCode: 999, reason: 'x'.repeat(124) }))
    assertDOMException(t, error, 'InvalidAccessError')
    assertTypeError(
      t,
      thrownBy(t, () => wss.close({ closeCode: 70000, reason: 'x'.repeat(124) })),
    )
  },
  title: (_, state) => `the close code is checked before the reason while ${state}`,
})

for (const state of Object.keys(states)) {
  test(closeTrueIsTypeError, state)
  test(enforceRange, state)
  test(invalidAccess, state)
  test(reasonTooLong, state)
  test(codeBeforeReason, state)
}

test('a close() that throws leaves the connection open', async (t) => {
  const { url } = await recordingServer(t)
  const { wss, readable, writable } = await openStream(t, url)
  thrownBy(t, () => wss.close({ closeCode: 1001 }))
  thrownBy(t, () => wss.close({ reason: 'x'.repeat(124) }))
  thrownBy(t, () => wss.close({ closeCode: 70000 }))
  thrownBy(t, () => wss.close(true))
  const writer = writable.getWriter()
  const reader = readable.getReader()
  await withTimeout(writer.write('still open'), 5000, 'write')
  t.deepEqual(await withTimeout(reader.read(), 5000, 'read'), { value: 'still open', done: false })
})

test('a close() that throws during the handshake leaves the handshake going', async (t) => {
  let accept
  const accepted = new Promise((resolve) => (accept = resolve))
  const peer = await rawServerFor(t, (socket) => accept(socket))
  const wss = tracked(t, peer.url)
  const socket = await withTimeout(accepted, 5000, 'the TCP connection')
  thrownBy(t, () => wss.close({ closeCode: 1001 }))
  // Now the server answers: the handshake must still complete.
  await acceptHandshake(socket)
  await t.notThrowsAsync(withTimeout(wss.opened, 5000, 'opened'))
})

// --- what close() sends ------------------------------------------------------

test('close() with no arguments sends an empty Close: the server sees 1005 and closed reports it', async (t) => {
  const server = await recordingServer(t)
  const { wss } = await openStream(t, server.url)
  t.is(wss.close(), undefined)
  t.deepEqual(await server.nextClose(), { code: 1005, reason: '' })
  t.deepEqual(await withTimeout(wss.closed, 5000, 'closed'), { closeCode: 1005, reason: '' })
})

test('close(null) and close(undefined) are close()', async (t) => {
  const server = await recordingServer(t)
  for (const closeInfo of [null, undefined]) {
    const { wss } = await openStream(t, server.url)
    wss.close(closeInfo)
    t.deepEqual(await server.nextClose(), { code: 1005, reason: '' }, String(closeInfo))
  }
})

test('the closeCode and reason given reach the server and come back in closed', async (t) => {
  const server = await recordingServer(t)
  const { wss } = await openStream(t, server.url)
  wss.close({ closeCode: 4321, reason: 'done ☃' })
  t.deepEqual(await server.nextClose(), { code: 4321, reason: 'done ☃' })
  t.deepEqual(await withTimeout(wss.closed, 5000, 'closed'), { closeCode: 4321, reason: 'done ☃' })
})

test('closeCode 3000.9 closes with 3000', async (t) => {
  const server = await recordingServer(t)
  const { wss } = await openStream(t, server.url)
  wss.close({ closeCode: 3000.9 })
  t.deepEqual(await server.nextClose(), { code: 3000, reason: '' })
  t.deepEqual(await withTimeout(wss.closed, 5000, 'closed'), { closeCode: 3000, reason: '' })
})

test("closeCode '4000' closes with 4000", async (t) => {
  const server = await recordingServer(t)
  const { wss } = await openStream(t, server.url)
  wss.close({ closeCode: '4000' })
  t.deepEqual(await server.nextClose(), { code: 4000, reason: '' })
})

test('a reason without a closeCode sends 1000', async (t) => {
  const server = await recordingServer(t)
  const { wss } = await openStream(t, server.url)
  wss.close({ reason: 'x' })
  t.deepEqual(await server.nextClose(), { code: 1000, reason: 'x' })
  t.deepEqual(await withTimeout(wss.closed, 5000, 'closed'), { closeCode: 1000, reason: 'x' })
})

test('a reason of exactly 123 UTF-8 bytes is sent whole', async (t) => {
  const server = await recordingServer(t)
  for (const reason of ['x'.repeat(123), '🔌'.repeat(30), `${'é'.repeat(61)}x`]) {
    const { wss } = await openStream(t, server.url)
    wss.close({ closeCode: 1000, reason })
    t.deepEqual(await server.nextClose(), { code: 1000, reason })
  }
})

test('the reason is converted to a USVString: a lone surrogate is sent as U+FFFD', async (t) => {
  const server = await recordingServer(t)
  const { wss } = await openStream(t, server.url)
  wss.close({ closeCode: 4000, reason: 'a\uD800b' })
  t.deepEqual(await server.nextClose(), { code: 4000, reason: 'a\uFFFDb' })
})

test('close({code}) ignores code, and only the first such call warns, naming closeCode', async (t) => {
  const codeWarnings = []
  let warned
  const firstWarning = new Promise((resolve) => (warned = resolve))
  const onWarning = (warning) => {
    // Other tests run alongside in this process: count only warnings about close codes.
    if (!/code/i.test(warning.message)) return
    codeWarnings.push(warning)
    warned(warning)
  }
  process.on('warning', onWarning)
  t.teardown(() => process.off('warning', onWarning))
  const server = await recordingServer(t)

  const first = (await openStream(t, server.url)).wss
  first.close({ code: 4000 })
  t.regex((await withTimeout(firstWarning, 5000, 'the warning')).message, /closeCode/, 'it names closeCode')
  t.deepEqual(await server.nextClose(), { code: 1005, reason: '' }, 'code is not a member: an empty Close')
  t.deepEqual(await withTimeout(first.closed, 5000, 'closed'), { closeCode: 1005, reason: '' })

  const second = (await openStream(t, server.url)).wss
  second.close({ code: 4001, reason: 'r' })
  t.deepEqual(await server.nextClose(), { code: 1000, reason: 'r' })
  // A warning is emitted on the next tick; the server saw this close many ticks later.
  t.is(codeWarnings.length, 1, 'exactly one warning: the second call does not warn')
})

test('close() during the handshake rejects opened and closed with WebSocketErrors and sends nothing', async (t) => {
  const server = await silentServer(t)
  const wss = tracked(t, server.url)
  const request = await server.request()
  wss.close({ closeCode: 4000, reason: 'ignored' })
  const opened = await rejectionOf(wss.opened, 5000, 'opened')
  const closed = await rejectionOf(wss.closed, 5000, 'closed')
  t.true(opened instanceof WebSocketError, inspect(opened))
  t.is(opened.closeCode, null)
  t.true(closed instanceof WebSocketError, inspect(closed))
  t.is(closed.closeCode, 1006, 'no Close frame was received')
  await withTimeout(request.ended, 5000, 'the TCP connection ends')
  t.is(Buffer.concat(request.after).length, 0, 'nothing after the request head: no Close frame')
})

test('close() is idempotent: only the first call is sent', async (t) => {
  const server = await recordingServer(t)
  const { wss } = await openStream(t, server.url)
  t.is(wss.close({ closeCode: 3001, reason: 'first' }), undefined)
  t.is(wss.close({ closeCode: 3002, reason: 'second' }), undefined)
  t.is(wss.close(), undefined)
  t.deepEqual(await server.nextClose(), { code: 3001, reason: 'first' })
  t.deepEqual(await withTimeout(wss.closed, 5000, 'closed'), { closeCode: 3001, reason: 'first' })
  t.is(wss.close({ closeCode: 3003 }), undefined, 'after closed as well')
})

// --- abort() and cancel() ----------------------------------------------------

const withWebSocketError = test.macro({
  async exec(t, method) {
    const server = await recordingServer(t)
    const { wss, readable, writable } = await openStream(t, server.url)
    const reason = new WebSocketError('going', { closeCode: 4001, reason: `by ${method}` })
    if (method === 'abort') await withTimeout(writable.getWriter().abort(reason), 5000, 'abort')
    else await withTimeout(readable.getReader().cancel(reason), 5000, 'cancel')
    t.deepEqual(await server.nextClose(), { code: 4001, reason: `by ${method}` })
    t.deepEqual(await withTimeout(wss.closed, 5000, 'closed'), { closeCode: 4001, reason: `by ${method}` })
  },
  title: (_, method) => `${method}(reason) with a WebSocketError closes with its closeCode and reason`,
})

const withReasonOnly = test.macro({
  async exec(t, method) {
    const server = await recordingServer(t)
    const { readable, writable } = await openStream(t, server.url)
    const reason = new WebSocketError('', { reason: 'only a reason' })
    if (method === 'abort') await withTimeout(writable.getWriter().abort(reason), 5000, 'abort')
    else await withTimeout(readable.getReader().cancel(reason), 5000, 'cancel')
    t.deepEqual(await server.nextClose(), { code: 1000, reason: 'only a reason' })
  },
  title: (_, method) => `${method}(reason) with a WebSocketError carrying only a reason closes with 1000`,
})

const ignoredReasons = {
  'a plain object': () => ({ closeCode: 4002, reason: 'plain' }),
  'a DOMException with closeCode and reason properties': () =>
    Object.assign(new DOMException('m', 'AbortError'), { closeCode: 4003, reason: 'dom' }),
  'an object inheriting from WebSocketError.prototype': () =>
    Object.create(WebSocketError.prototype, {
      closeCode: { value: 4004 },
      reason: { value: 'lookalike' },
    }),
  'a string': () => 'reason',
  undefined: () => undefined,
}

const withOtherReason = test.macro({
  async exec(t, method, kind) {
    const server = await recordingServer(t)
    const { wss, readable, writable } = await openStream(t, server.url)
    const reason = ignoredReasons[kind]()
    if (method === 'abort') await withTimeout(writable.getWriter().abort(reason), 5000, 'abort')
    else await withTimeout(readable.getReader().cancel(reason), 5000, 'cancel')
    t.deepEqual(await server.nextClose(), { code: 1005, reason: '' })
    t.deepEqual(await withTimeout(wss.closed, 5000, 'closed'), { closeCode: 1005, reason: '' })
  },
  title: (_, method, kind) => `${method}(reason) with ${kind} sends an empty Close (the server sees 1005)`,
})

const withUnsendableCode = test.macro({
  async exec(t, method) {
    // A WebSocketError the package made, carrying 1006: not a code a client may send.
    const failed = new WebSocketStream(`ws://127.0.0.1:${await refusedPort()}/`)
    const unsendable = await rejectionOf(failed.closed, 10_000, 'closed')
    t.true(unsendable instanceof WebSocketError)
    t.is(unsendable.closeCode, 1006)

    const server = await recordingServer(t)
    const { readable, writable } = await openStream(t, server.url)
    if (method === 'abort') await withTimeout(writable.getWriter().abort(unsendable), 5000, 'abort')
    else await withTimeout(readable.getReader().cancel(unsendable), 5000, 'cancel')
    t.deepEqual(await server.nextClose(), { code: 1005, reason: '' })
  },
  title: (_, method) => `${method}(reason) with a WebSocketError carrying 1006 falls back to an empty Close`,
})

const resolvesWithoutHandshake = test.macro({
  async exec(t, method) {
    // The raw server reads frames and never answers any of them, a Close included.
    const { frames, wss, readable, writable } = await openedRawClientFor(t)
    let closedSettled = false
    wss.closed.then(
      () => (closedSettled = true),
      () => (closedSettled = true),
    )
    const reason = new WebSocketError('', { closeCode: 4005, reason: 'no answer' })
    const settled = method === 'abort' ? writable.getWriter().abort(reason) : readable.getReader().cancel(reason)
    t.is(await withTimeout(settled, 10_000, method), undefined)
    t.false(closedSettled, `${method}() resolved while the closing handshake was still unanswered`)
    const sent = await frames.closeFrame(5000)
    t.deepEqual([sent.code, sent.reason], [4005, 'no answer'])
  },
  title: (_, method) => `${method}() resolves without waiting for the closing handshake`,
})

for (const method of ['abort', 'cancel']) {
  test(withWebSocketError, method)
  test(withReasonOnly, method)
  for (const kind of Object.keys(ignoredReasons)) test(withOtherReason, method, kind)
  test(withUnsendableCode, method)
  test(resolvesWithoutHandshake, method)
}

test('abort() with a WebSocketError after close() changes nothing that was sent', async (t) => {
  const server = await recordingServer(t)
  const { wss, writable } = await openStream(t, server.url)
  wss.close({ closeCode: 3100, reason: 'close first' })
  await withTimeout(
    writable.getWriter().abort(new WebSocketError('', { closeCode: 3200, reason: 'abort second' })),
    5000,
    'abort',
  )
  t.deepEqual(await server.nextClose(), { code: 3100, reason: 'close first' })
  t.deepEqual(await withTimeout(wss.closed, 5000, 'closed'), { closeCode: 3100, reason: 'close first' })
})
