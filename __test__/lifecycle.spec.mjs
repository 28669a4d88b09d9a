// Process and thread lifecycle (docs/design.md "Threads and what each owns",
// "Decisions where the draft is silent"): a process ends on its own once its
// connections are done, stays alive while one is open, a collected stream
// ends its socket, worker_threads work and survive termination, and the ESM
// and CommonJS entries are the same classes. Scripts run as child processes
// so a hang, an unhandled rejection or a crash shows up in their exit.
import test from 'ava'
import { createHook } from 'node:async_hooks'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import { setTimeout as delay } from 'node:timers/promises'
import { spawnChild } from './helpers/child-process.mjs'
import { withTimeout } from './helpers/settle.mjs'
import { WebSocketStream } from '../index.mjs'
import { wsServerFor as server } from './helpers/fixtures.mjs'
import { refusedPort } from './helpers/servers.mjs'

const fixture = (name) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url))

/** Starts `node [nodeArgs] fixtures/<name> args` (see spawnChild). */
const runFixture = (t, name, args, nodeArgs = []) =>
  spawnChild(t, process.execPath, [...nodeArgs, fixture(name), ...args])

test('a script that opens, exchanges a message and closes exits by itself with code 0', async (t) => {
  const { url } = await server(t)
  const { output, exited } = runFixture(t, 'open-exchange-close.mjs', [url])
  const { code, signal } = await withTimeout(exited, 10000, 'the script to exit by itself')
  t.is(signal, null, output.stderr)
  t.is(code, 0, output.stderr)
  t.true(output.stdout.includes('echo: hello from the child'), output.stdout)
  t.true(output.stdout.includes('closed: 1000 bye'), output.stdout)
})

test('a script whose connection is refused exits by itself without an unhandled rejection', async (t) => {
  const port = await refusedPort()
  const { output, exited } = runFixture(t, 'connect-refused.mjs', [`ws://127.0.0.1:${port}/`])
  const { code, signal } = await withTimeout(exited, 10000, 'the script to exit by itself')
  t.is(signal, null, output.stderr)
  t.is(code, 0, output.stderr)
  t.false(/unhandled/i.test(output.stderr), output.stderr)
  t.true(output.stdout.includes('observed: WebSocketError'), output.stdout)
  t.true(output.stdout.includes('untouched: rejected WebSocketError 1006'), output.stdout)
})

test('an open connection keeps the process alive until the server closes it', async (t) => {
  const peer = await server(t, () => {})
  const { child, output, exited, waitFor } = runFixture(t, 'open-idle.mjs', [peer.url])
  await waitFor(/^opened$/m, 10000)
  // What is checked is time passing: the process is still there a second later.
  await delay(1000)
  t.is(child.exitCode, null, `the process exited while its connection was open: ${output.stderr}`)
  t.is(child.signalCode, null)
  t.is(peer.connections.size, 1)
  await peer.close()
  const { code, signal } = await withTimeout(exited, 10000, 'the script to exit after the server closed')
  t.is(signal, null, output.stderr)
  t.is(code, 0, output.stderr)
  t.true(output.stdout.includes('closed WebSocketError 1006'), output.stdout)
})

// 'hooked': an async hook holds every resource, as why-is-node-running does.
for (const variant of ['plain', 'hooked']) {
  test(`a stream collected without close() ends its socket (${variant})`, async (t) => {
    let serverSawClose
    const sawClose = new Promise((resolve) => (serverSawClose = resolve))
    const peer = await server(t, (socket) => {
      socket.send('first')
      socket.send('second')
      socket.on('close', (code) => serverSawClose(code))
    })
    const { child, output, waitFor } = runFixture(t, 'gc-drop.mjs', [peer.url, variant], ['--expose-gc'])
    await waitFor(/^dropped$/m, 10000)
    t.true(output.stdout.includes('read: first'), output.stdout)
    const code = await withTimeout(sawClose, 10000, 'the server to see the connection close after gc()')
    t.is(child.exitCode, null, `the process had exited, which would end the socket anyway: ${output.stderr}`)
    t.is(child.signalCode, null)
    t.log(`server saw close code ${code}`)
  })
}

test('three worker_threads at once each echo a message', async (t) => {
  const { url } = await server(t)
  const workers = [0, 1, 2].map((i) => {
    const worker = new Worker(new URL('./fixtures/echo-worker.mjs', import.meta.url), {
      workerData: { url, message: `worker ${i} ☃` },
    })
    t.teardown(() => worker.terminate())
    const reply = new Promise((resolve, reject) => {
      worker.once('message', resolve)
      worker.once('error', reject)
    })
    const exit = new Promise((resolve) => worker.once('exit', resolve))
    return { reply, exit }
  })
  const replies = await withTimeout(Promise.all(workers.map((w) => w.reply)), 10000, 'worker replies')
  replies.forEach((reply, i) => {
    t.is(reply.echo, `worker ${i} ☃`)
    t.deepEqual(reply.closed, { closeCode: 1005, reason: '' })
  })
  const exitCodes = await withTimeout(Promise.all(workers.map((w) => w.exit)), 10000, 'workers to exit by themselves')
  t.deepEqual(exitCodes, [0, 0, 0])
})

test('terminating 50 workers mid-connection does not crash the process', async (t) => {
  const { output, exited } = runFixture(t, 'worker-terminate-loop.mjs', [])
  const { code, signal } = await withTimeout(exited, 45000, 'the worker loop to finish')
  t.is(signal, null, `killed by ${signal}: ${output.stderr}`)
  t.is(code, 0, output.stderr)
  t.true(output.stdout.includes('terminated 50 workers'), output.stdout + output.stderr)
})

test('ESM and CommonJS entries export the same classes', async (t) => {
  const require = createRequire(import.meta.url)
  const cjs = require('../index.js')
  const esm = await import('../index.mjs')
  t.is(typeof esm.WebSocketStream, 'function')
  t.is(cjs.WebSocketStream, esm.WebSocketStream)
  t.is(cjs.WebSocketError, esm.WebSocketError)
})

// What why-is-node-running and test runners' open-handle reports read.
test.serial(
  'async_hooks see each connection as a WebSocketStream resource with its URL, referenced until closed',
  async (t) => {
    const peer = await server(t)
    const url = `${peer.url}named`
    const created = new Map()
    const destroyed = new Set()
    const hook = createHook({
      init(asyncId, type, triggerAsyncId, resource) {
        if (type === 'WebSocketStream') created.set(asyncId, resource)
      },
      destroy(asyncId) {
        destroyed.add(asyncId)
      },
    }).enable()
    t.teardown(() => hook.disable())
    const wss = new WebSocketStream(url)
    const mine = [...created].filter(([, resource]) => resource.url === url)
    t.is(mine.length, 1, 'one resource, made by the constructor')
    const [[asyncId, resource]] = mine
    t.true(resource.hasRef(), 'connecting keeps the process alive')
    await withTimeout(wss.opened, 5000, 'opened')
    t.true(resource.hasRef(), 'so does an open connection')
    wss.close()
    await withTimeout(wss.closed, 5000, 'closed')
    t.false(resource.hasRef(), 'a closed one does not')
    // destroy hooks run after the current tick.
    await delay(50)
    t.true(destroyed.has(asyncId), 'the resource was destroyed with the connection')
  },
)
