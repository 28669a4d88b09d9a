// What an idle connection does not make until it needs it (bench/README.md,
// "Where an idle connection's memory goes"), tested where it is finally
// needed: the listener that lets a waiting write give way to writer.abort(),
// made on the first write that waits, and the `opened` and `closed` promises,
// made when first asked for.
import test from 'ava'
import { setTimeout as delay } from 'node:timers/promises'
import { WebSocketStream } from '../index.mjs'
import { clientWithStalledWrite, wsServerFor } from './helpers/fixtures.mjs'
import { isPending, rejectionOf, withTimeout } from './helpers/settle.mjs'

/** writer.abort(reason) rejects the write waiting for the socket with `reason` at once, and settles. */
async function assertAbortReleases(t, writer, waitingWrite, label) {
  const reason = new Error('given up')
  const aborted = writer.abort(reason)
  t.is(await rejectionOf(waitingWrite, 5000, label), reason)
  await t.notThrowsAsync(withTimeout(aborted, 5000, 'abort()'))
}

test('writer.abort() while a write waits for the socket rejects that write with the reason at once', async (t) => {
  const { writer, pendingWrite } = await clientWithStalledWrite(t)
  t.true(await isPending(pendingWrite), 'the 8 MiB write is pending while the server does not read')
  await assertAbortReleases(t, writer, pendingWrite, 'the waiting write')
})

test('writer.abort() after a write waited and went gives way to the next waiting write too', async (t) => {
  const { socket, writer, pendingWrite } = await clientWithStalledWrite(t)
  socket.on('data', () => {})
  socket.resume()
  await withTimeout(pendingWrite, 10_000, 'the first write, once the server reads')
  socket.pause()
  const second = writer.write(new Uint8Array(8 << 20))
  second.catch(() => {})
  await delay(300)
  t.true(await isPending(second), 'the second 8 MiB write waits again')
  await assertAbortReleases(t, writer, second, 'the second waiting write')
})

test('opened and closed asked for only after the connection ended still settle, each time the same promise', async (t) => {
  const server = await wsServerFor(t, (socket) => socket.close(4000, 'early'))
  const wss = new WebSocketStream(server.url)
  // Nothing asks for the promises until the connection has closed.
  await delay(500)
  const { readable } = await withTimeout(wss.opened, 5000, 'opened')
  t.is(wss.opened, wss.opened)
  t.is(wss.closed, wss.closed)
  t.deepEqual(await withTimeout(wss.closed, 5000, 'closed'), { closeCode: 4000, reason: 'early' })
  t.true((await readable.getReader().read()).done)
})

test('opened and closed of a connection that failed before anyone asked reject when asked for, never unhandled', async (t) => {
  const unhandled = []
  const onUnhandled = (reason) => unhandled.push(reason)
  process.on('unhandledRejection', onUnhandled)
  t.teardown(() => process.off('unhandledRejection', onUnhandled))
  const wss = new WebSocketStream('ws://127.0.0.1:1/refused')
  await delay(500)
  const openedError = await rejectionOf(wss.opened, 5000, 'opened')
  const closedError = await rejectionOf(wss.closed, 5000, 'closed')
  t.is(openedError.name, 'WebSocketError')
  t.is(closedError.closeCode, 1006)
  const untouched = new WebSocketStream('ws://127.0.0.1:1/untouched')
  await delay(500)
  t.truthy(untouched)
  t.deepEqual(unhandled, [])
})
