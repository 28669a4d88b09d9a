// Connecting the way Node's `net` does: host names resolve with dns.lookup
// semantics (or the `lookup` option, net.connect's signature, called with
// `{ all: true }`), never for an IP literal, and through a proxy only the
// proxy's name; every address is tried with RFC 8305 Happy Eyeballs (the
// families take turns, the next attempt starts when one fails or stays
// unanswered for net.getDefaultAutoSelectFamilyAttemptTimeout(), the first
// connection wins); a lookup failure or a set of failed attempts rejects
// `opened` with a WebSocketError that says what happened.
//
// A black-holed address (SYNs unanswered) is fixtures/black-hole.py on
// 127.0.0.2: Linux only (other systems do not route all of 127/8 to the
// loopback, or complete handshakes past a backlog of 0). On Linux it needs
// python3 (or WEBSOCKETSTREAM_TEST_PYTHON), and a missing one fails these
// tests rather than skipping them. Tests that need ::1 are skipped where the
// IPv6 loopback is missing (a container without IPv6, say).
import test from 'ava'
import { spawn } from 'node:child_process'
import diagnosticsChannel from 'node:diagnostics_channel'
import http from 'node:http'
import net from 'node:net'
import { setTimeout as delay } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { inspect } from 'node:util'
import { WebSocketError, WebSocketStream } from '../index.mjs'
import { assertTypeError, assertWebSocketError, thrownBy } from './helpers/errors.mjs'
import { clientFor, openedClientFor, rawServerFor, recordingServer, wsServerFor } from './helpers/fixtures.mjs'
import { refusedPort } from './helpers/servers.mjs'
import { rejectionOf, withTimeout } from './helpers/settle.mjs'

const python = process.env.WEBSOCKETSTREAM_TEST_PYTHON || 'python3'
const BLACK_HOLE = fileURLToPath(new URL('./fixtures/black-hole.py', import.meta.url))

const hasIPv6Loopback = await new Promise((resolve) => {
  const probe = net.createServer()
  probe.once('error', () => resolve(false))
  probe.listen(0, '::1', () => probe.close(() => resolve(true)))
})
// 127.0.0.2 and 127.0.0.3 are loopback addresses, refused at once where
// nothing listens, on Linux only.
const isLinux = process.platform === 'linux'

const ipv6Test = hasIPv6Loopback ? test : test.skip
const loopbackRangeTest = isLinux && hasIPv6Loopback ? test : test.skip
const blackHoleTest = isLinux ? test : test.skip

// --- helpers ------------------------------------------------------------------

const v4 = (address) => ({ address, family: 4 })
const v6 = (address) => ({ address, family: 6 })

/**
 * A `lookup` option that records its calls as `{ hostname, options }` and,
 * on a later turn, calls back with what `answer(hostname)` returns: an
 * Error, or an array of `{ address, family }`.
 */
function recordingLookup(answer) {
  const calls = []
  const lookup = (hostname, options, callback) => {
    calls.push({ hostname, options })
    const result = answer(hostname)
    setImmediate(() => (result instanceof Error ? callback(result) : callback(null, result)))
  }
  return { lookup, calls }
}

/** An Error as dns.lookup makes them for a name that does not exist. */
function notFound(hostname) {
  return Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), {
    code: 'ENOTFOUND',
    syscall: 'getaddrinfo',
    hostname,
  })
}

/**
 * What `localhost` resolves to on a dual-stack host whose /etc/hosts has
 * `::1 localhost` before `127.0.0.1 localhost`. This machine's /etc/hosts
 * has no ::1 line (dns.lookup('localhost') gives 127.0.0.1 only), so the
 * tests that need both families answer for localhost themselves.
 */
const dualStackLocalhost = () =>
  recordingLookup((hostname) => (hostname === 'localhost' ? [v6('::1'), v4('127.0.0.1')] : notFound(hostname)))

/** The websocketstream:open messages for exactly `url`, until teardown. */
function recordOpens(t, url) {
  const opens = []
  const listener = (message) => {
    if (message.url === url) opens.push(message)
  }
  diagnosticsChannel.subscribe('websocketstream:open', listener)
  t.teardown(() => diagnosticsChannel.unsubscribe('websocketstream:open', listener))
  return opens
}

/** Sends `message` on an open client, checks the echo, then closes the client. */
async function echoThenClose(t, { wss, readable, writable }, message) {
  const writer = writable.getWriter()
  const reader = readable.getReader()
  await withTimeout(writer.write(message), 5000, 'write')
  t.is((await withTimeout(reader.read(), 5000, 'the echo')).value, message, 'the connection works')
  wss.close()
  await withTimeout(wss.closed, 5000, 'closed')
}

/** `text` with the RegExp special characters escaped. */
const literally = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

/** One port where nothing listens on any of `hosts` (they all listened on it a moment ago). */
async function portFreeOn(hosts) {
  for (let attempt = 0; attempt < 50; attempt++) {
    const servers = []
    let port = 0
    try {
      for (const host of hosts) {
        const server = net.createServer()
        await new Promise((resolve, reject) => {
          server.once('error', reject)
          server.listen(port, host, resolve)
        })
        servers.push(server)
        port = server.address().port
      }
      return port
    } catch {
      // Taken on one of the hosts: try another port.
    } finally {
      await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))))
    }
  }
  throw new Error(`no port free on all of ${hosts.join(', ')}`)
}

/**
 * Starts fixtures/black-hole.py on 127.0.0.2 `port`: SYNs to it go
 * unanswered. It lives until its stdin closes, which teardown does (and a
 * SIGKILL if it is still there after that, or after two minutes). The
 * shared spawnChild helper cannot start it: it gives children no stdin, so
 * the fixture would see end of file at once and exit.
 */
async function startBlackHole(t, port) {
  const child = spawn(python, [BLACK_HOLE, String(port)], { stdio: ['pipe', 'pipe', 'pipe'] })
  child.stdin.on('error', () => {})
  const output = { stdout: '', stderr: '' }
  child.stdout.setEncoding('utf8').on('data', (chunk) => (output.stdout += chunk))
  child.stderr.setEncoding('utf8').on('data', (chunk) => (output.stderr += chunk))
  const running = () => child.exitCode === null && child.signalCode === null
  const exited = new Promise((resolve) => {
    child.on('close', resolve)
    child.on('error', resolve)
  })
  const killer = setTimeout(() => {
    if (running()) child.kill('SIGKILL')
  }, 120_000)
  t.teardown(async () => {
    child.stdin.end()
    await withTimeout(exited, 5000, 'the black hole to exit').catch(() => child.kill('SIGKILL'))
    clearTimeout(killer)
  })
  const started = await withTimeout(
    new Promise((resolve, reject) => {
      const check = () => {
        const match = /^PORT (\d+)$/m.exec(output.stdout)
        if (match !== null) resolve(Number(match[1]))
      }
      child.stdout.on('data', check)
      exited.then(() => reject(new Error(`black-hole.py exited before printing its port: ${output.stderr}`)))
    }),
    15_000,
    'black-hole.py to print its port',
  )
  return started
}

/**
 * A tiny HTTP CONNECT proxy on 127.0.0.1 that resolves the target's host
 * name through `hosts` (name → address) and records each CONNECT target
 * (`host:port` as the request line has it) in `targets`; closed at teardown.
 */
async function mappingProxyFor(t, hosts) {
  const targets = []
  const sockets = new Set()
  const track = (socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => {})
  }
  const server = http.createServer((request, response) => response.writeHead(405).end())
  server.on('connect', (request, clientSocket, head) => {
    track(clientSocket)
    targets.push(request.url)
    const colon = request.url.lastIndexOf(':')
    const address = hosts[request.url.slice(0, colon)]
    if (address === undefined) {
      clientSocket.end('HTTP/1.1 502 Bad Gateway\r\n\r\n')
      return
    }
    const upstream = net.connect(Number(request.url.slice(colon + 1)), address, () => {
      clientSocket.write('HTTP/1.1 200 Connection Established\r\n\r\n')
      if (head.length > 0) upstream.write(head)
      upstream.pipe(clientSocket)
      clientSocket.pipe(upstream)
    })
    track(upstream)
    upstream.on('error', () => clientSocket.destroy())
    clientSocket.on('close', () => upstream.destroy())
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(
    () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      }),
  )
  return { port: server.address().port, targets }
}

/** Checks the two rejections of a connection that failed before opening, as the draft has them. */
async function assertFailedBeforeOpening(t, wss, label) {
  const opened = await rejectionOf(wss.opened, 15_000, `${label}: opened`)
  assertWebSocketError(t, opened, { closeCode: null }, `${label}: opened`)
  const closed = await rejectionOf(wss.closed, 5000, `${label}: closed`)
  assertWebSocketError(t, closed, { closeCode: 1006 }, `${label}: closed`)
  return opened
}

// --- Happy Eyeballs ---------------------------------------------------------------

blackHoleTest('a black-holed first address is left after the attempt delay and the next address wins', async (t) => {
  t.timeout(30_000)
  const server = await recordingServer(t)
  // The black hole on 127.0.0.2 at the server's port, so one URL port fits both.
  await startBlackHole(t, server.port)
  const { lookup, calls } = recordingLookup(() => [v4('127.0.0.2'), v4('127.0.0.1')])
  const url = `ws://blackhole.test:${server.port}/happy-eyeballs`
  const opens = recordOpens(t, url)
  const started = performance.now()
  const client = await openedClientFor(t, url, { lookup }, 15_000)
  const elapsed = performance.now() - started
  // The second attempt starts after the attempt delay (250 ms by default;
  // timers never fire early), so taking that long shows the black hole was
  // tried first and never answered.
  t.true(elapsed >= 200, `opened after ${elapsed.toFixed(0)} ms: the black hole was tried first`)
  // Tried one after the other, the black hole would hold the connection for
  // the OS connect timeout (minutes on Linux); 10 s is a generous bound.
  t.true(elapsed < 10_000, `opened after ${elapsed.toFixed(0)} ms, not after the OS connect timeout`)
  t.is(calls.length, 1, 'the lookup is called once')
  t.is(calls[0].hostname, 'blackhole.test')
  t.is(calls[0].options?.all, true, 'the lookup is asked for every address')
  t.is(opens.length, 1)
  t.like(opens[0], { remoteAddress: '127.0.0.1', remotePort: server.port })
  t.is(server.requests.length, 1)
  t.is(server.requests[0].socket.remoteAddress, '127.0.0.1')
  t.is(server.requests[0].headers.host, `blackhole.test:${server.port}`)
  await echoThenClose(t, client, 'through 127.0.0.1')
})

// Serial (ava runs serial tests before the others): it changes Node's
// process-wide attempt delay, which the other tests expect at its default.
;(isLinux ? test.serial : test.skip)(
  "the attempt delay is Node's net.getDefaultAutoSelectFamilyAttemptTimeout()",
  async (t) => {
    t.timeout(30_000)
    const server = await recordingServer(t)
    await startBlackHole(t, server.port)
    const previous = net.getDefaultAutoSelectFamilyAttemptTimeout()
    net.setDefaultAutoSelectFamilyAttemptTimeout(1500)
    t.teardown(() => net.setDefaultAutoSelectFamilyAttemptTimeout(previous))
    const { lookup } = recordingLookup(() => [v4('127.0.0.2'), v4('127.0.0.1')])
    const started = performance.now()
    const client = await openedClientFor(t, `ws://blackhole.test:${server.port}/slow-eyeballs`, { lookup }, 15_000)
    const elapsed = performance.now() - started
    t.true(elapsed >= 1400, `opened after ${elapsed.toFixed(0)} ms: the second attempt waited 1500 ms`)
    t.true(elapsed < 10_000, `opened after ${elapsed.toFixed(0)} ms`)
    await echoThenClose(t, client, 'after a longer delay')
  },
)

// Serial: it changes Node's process-wide autoSelectFamily default.
;(hasIPv6Loopback ? test.serial : test.skip)(
  'with net.setDefaultAutoSelectFamily(false), only the first address is tried, as net.connect does',
  async (t) => {
    const server = await wsServerFor(t)
    const previous = net.getDefaultAutoSelectFamily()
    net.setDefaultAutoSelectFamily(false)
    t.teardown(() => net.setDefaultAutoSelectFamily(previous))
    // ::1 has nothing on the server's port; 127.0.0.1 would answer.
    const { lookup } = recordingLookup(() => [v6('::1'), v4('127.0.0.1')])
    const wss = clientFor(t, `ws://first-only.test:${server.port}/`, { lookup })
    const error = await assertFailedBeforeOpening(t, wss, 'the first address only')
    t.regex(
      error.message,
      new RegExp(
        `could not connect to first-only\\.test:${server.port}: tried \\[::1\\]:${server.port} \\(connection refused\\)$`,
      ),
    )
    net.setDefaultAutoSelectFamily(previous)
    const client = await openedClientFor(t, `ws://first-only.test:${server.port}/again`, { lookup })
    await echoThenClose(t, client, 'with the default back, the second address answers')
  },
)

loopbackRangeTest(
  'the families take turns from the first address family, and a refused attempt starts the next at once',
  async (t) => {
    t.timeout(30_000)
    const port = await portFreeOn(['127.0.0.1', '127.0.0.2', '127.0.0.3', '::1'])
    const { lookup } = recordingLookup(() => [v4('127.0.0.2'), v4('127.0.0.3'), v6('::1')])
    const started = performance.now()
    const wss = clientFor(t, `ws://order.test:${port}/`, { lookup })
    const error = await assertFailedBeforeOpening(t, wss, 'every address refused')
    const elapsed = performance.now() - started
    // Each refusal comes back at once on the loopback, so one attempt runs at
    // a time and the failures are listed in the order they were tried: IPv4,
    // IPv6, then IPv4 again (in the resolver's order the two IPv4 addresses
    // would come first).
    const tried = [`127.0.0.2:${port}`, `[::1]:${port}`, `127.0.0.3:${port}`]
      .map((address) => `${literally(address)} \\(connection refused\\)`)
      .join(', ')
    t.regex(error.message, new RegExp(`could not connect to order\\.test:${port}: tried ${tried}`))
    // Waiting for the attempt delay after each refusal would take two delays (500 ms).
    t.true(elapsed < 500, `three refusals took ${elapsed.toFixed(0)} ms`)
  },
)

ipv6Test(
  'when every address is refused, opened rejects naming each address with its reason and closed rejects with 1006',
  async (t) => {
    t.timeout(30_000)
    const port = await portFreeOn(['127.0.0.1', '::1'])
    const { lookup, calls } = recordingLookup(() => [v6('::1'), v4('127.0.0.1')])
    const wss = clientFor(t, `ws://refused.test:${port}/`, { lookup })
    const error = await assertFailedBeforeOpening(t, wss, 'every address refused')
    t.true(error.message.includes(`could not connect to refused.test:${port}`), error.message)
    t.regex(error.message, new RegExp(`\\[::1\\]:${port} \\(connection refused\\)`))
    t.regex(error.message, new RegExp(`127\\.0\\.0\\.1:${port} \\(connection refused\\)`))
    t.deepEqual(
      calls.map(({ hostname }) => hostname),
      ['refused.test'],
    )
  },
)

// --- lookup failures ----------------------------------------------------------------

test('a lookup error rejects opened with a WebSocketError naming the host, with the error as its cause', async (t) => {
  const lookupError = notFound('nowhere.test')
  const { lookup, calls } = recordingLookup(() => lookupError)
  const wss = clientFor(t, 'ws://nowhere.test:8080/', { lookup })
  const error = await assertFailedBeforeOpening(t, wss, 'lookup error')
  t.true(error.message.includes('DNS lookup of nowhere.test failed'), error.message)
  t.true(error.message.includes(lookupError.message), `${error.message} includes the lookup's message`)
  t.is(error.cause, lookupError, 'the cause is the lookup error itself')
  t.is(calls.length, 1)
})

test('a lookup that throws fails the connection the same way', async (t) => {
  const thrown = new Error('the resolver exploded')
  const wss = clientFor(t, 'ws://throwing.test:8080/', {
    lookup: () => {
      throw thrown
    },
  })
  const error = await assertFailedBeforeOpening(t, wss, 'lookup throws')
  t.true(error.message.includes('DNS lookup of throwing.test failed'), error.message)
  t.true(error.message.includes('the resolver exploded'), error.message)
  t.is(error.cause, thrown)
})

test('a lookup that finds no address, or something that is not an IP address, fails naming the host', async (t) => {
  const answers = {
    'no addresses': (callback) => callback(null, []),
    'a name in the list': (callback) => callback(null, [v4('not-an-ip')]),
    'a name as the single address': (callback) => callback(null, 'not-an-ip', 4),
  }
  for (const [label, answer] of Object.entries(answers)) {
    const wss = clientFor(t, 'ws://empty.test:8080/', {
      lookup: (hostname, options, callback) => setImmediate(() => answer(callback)),
    })
    const error = await assertFailedBeforeOpening(t, wss, label)
    t.true(error.message.includes('DNS lookup of empty.test'), `${label}: ${error.message}`)
  }
})

test('with the default resolver, a name under .invalid fails with a DNS error', async (t) => {
  t.timeout(30_000)
  const wss = clientFor(t, 'ws://no-such-host.invalid/')
  const opened = await rejectionOf(wss.opened, 20_000, 'opened')
  assertWebSocketError(t, opened, { closeCode: null }, 'opened')
  t.true(opened.message.includes('DNS lookup of no-such-host.invalid failed'), opened.message)
  t.true(opened.cause instanceof Error, `the resolver's error is the cause, got ${inspect(opened.cause)}`)
  assertWebSocketError(t, await rejectionOf(wss.closed, 5000, 'closed'), { closeCode: 1006 }, 'closed')
})

// --- localhost, literals and the callback forms ---------------------------------------

ipv6Test('an IPv6-only server is reached through localhost where it resolves to ::1 and 127.0.0.1', async (t) => {
  const server = await wsServerFor(t, undefined, { host: '::1' })
  const { lookup, calls } = dualStackLocalhost()
  const url = `ws://localhost:${server.port}/ipv6-only`
  const opens = recordOpens(t, url)
  const client = await openedClientFor(t, url, { lookup })
  t.deepEqual(
    calls.map(({ hostname }) => hostname),
    ['localhost'],
  )
  t.is(opens.length, 1)
  t.like(opens[0], { remoteAddress: '::1', remotePort: server.port })
  await echoThenClose(t, client, 'over IPv6')
})

// dns.lookup gives a link-local IPv6 address with its zone (`fe80::1%eth0`);
// the loopback interface stands in for one here, by name and by number.
;(isLinux && hasIPv6Loopback ? test : test.skip)(
  'an IPv6 address with a zone, as dns.lookup gives a link-local one, is connected to on that interface',
  async (t) => {
    const server = await wsServerFor(t, undefined, { host: '::1' })
    for (const zone of ['lo', '1']) {
      const url = `ws://zoned.test:${server.port}/zone-${zone}`
      const { lookup } = recordingLookup(() => [v6(`::1%${zone}`)])
      const client = await openedClientFor(t, url, { lookup })
      await echoThenClose(t, client, `through %${zone}`)
    }
    const url = `ws://zoned.test:${server.port}/no-such-zone`
    const { lookup } = recordingLookup(() => [v6('::1%no-such-interface')])
    const wss = clientFor(t, url, { lookup })
    const error = await assertFailedBeforeOpening(t, wss, 'an unknown zone')
    t.regex(error.message, /DNS lookup gave "::1%no-such-interface"/)
  },
)

test('an IPv4-only server is reached through localhost with the default resolver', async (t) => {
  const server = await recordingServer(t)
  const url = `ws://localhost:${server.port}/ipv4-only`
  const opens = recordOpens(t, url)
  const client = await openedClientFor(t, url)
  t.is(opens.length, 1)
  t.like(opens[0], { remoteAddress: '127.0.0.1', remotePort: server.port })
  t.is(server.requests[0].headers.host, `localhost:${server.port}`)
  await echoThenClose(t, client, 'over IPv4')
})

ipv6Test('an IPv4-only server is reached through a localhost that resolves to ::1 first', async (t) => {
  // ::1 at the server's port is refused at once; 127.0.0.1 wins.
  const server = await recordingServer(t)
  const { lookup, calls } = dualStackLocalhost()
  const url = `ws://localhost:${server.port}/ipv4-behind-dual-stack`
  const opens = recordOpens(t, url)
  const client = await openedClientFor(t, url, { lookup })
  t.is(calls.length, 1)
  t.is(opens.length, 1)
  t.like(opens[0], { remoteAddress: '127.0.0.1', remotePort: server.port })
  await echoThenClose(t, client, 'IPv4 after a refused IPv6')
})

test("a lookup may answer in net's (err, address, family) form, and may call back at once", async (t) => {
  const server = await recordingServer(t)
  const hostnames = []
  const lookup = (hostname, options, callback) => {
    hostnames.push(hostname)
    callback(null, '127.0.0.1', 4)
  }
  const client = await openedClientFor(t, `ws://single.test:${server.port}/`, { lookup })
  t.deepEqual(hostnames, ['single.test'])
  await echoThenClose(t, client, 'single address')
})

for (const [literal, host, needsIPv6] of [
  ['127.0.0.1', '127.0.0.1', false],
  ['[::1]', '::1', true],
]) {
  ;(needsIPv6 ? ipv6Test : test)(`lookup is not called for the IP literal ${literal}`, async (t) => {
    const server = await wsServerFor(t, undefined, { host })
    const { lookup, calls } = recordingLookup((hostname) => notFound(hostname))
    const client = await openedClientFor(t, `ws://${literal}:${server.port}/`, { lookup })
    await echoThenClose(t, client, `to ${literal}`)
    t.deepEqual(calls, [], 'the lookup was never called')
  })
}

// --- through a proxy ------------------------------------------------------------------

test("through a proxy, lookup resolves the proxy's name only and the proxy gets the target's name", async (t) => {
  const server = await recordingServer(t)
  const proxy = await mappingProxyFor(t, { 'target.test': '127.0.0.1' })
  const { lookup, calls } = recordingLookup((hostname) =>
    hostname === 'proxy.test' ? [v4('127.0.0.1')] : notFound(hostname),
  )
  const url = `ws://target.test:${server.port}/via-proxy`
  const opens = recordOpens(t, url)
  const client = await openedClientFor(t, url, { lookup, proxy: `http://proxy.test:${proxy.port}` })
  t.deepEqual(
    calls.map(({ hostname }) => hostname),
    ['proxy.test'],
    "only the proxy's name is looked up",
  )
  t.is(calls[0].options?.all, true)
  t.deepEqual(proxy.targets, [`target.test:${server.port}`], 'the proxy resolves the target')
  t.is(opens.length, 1)
  t.like(opens[0], { remoteAddress: '127.0.0.1', remotePort: proxy.port }, 'the TCP peer is the proxy')
  t.is(server.requests[0].headers.host, `target.test:${server.port}`)
  await echoThenClose(t, client, 'via the proxy')
})

// --- aborting during the lookup ---------------------------------------------------------

/**
 * A lookup that never calls back by itself: `called` resolves once it was
 * called, `callback` is what it was given.
 */
function pendingLookup() {
  const state = { callback: null }
  state.called = new Promise((resolve) => {
    state.lookup = (hostname, options, callback) => {
      state.callback = callback
      resolve()
    }
  })
  return state
}

/** Fails the test on any unhandled rejection until teardown. */
function watchUnhandledRejections(t) {
  const unhandled = []
  const listener = (reason) => unhandled.push(reason)
  process.on('unhandledRejection', listener)
  t.teardown(() => process.off('unhandledRejection', listener))
  return unhandled
}

test('a signal aborted during the lookup rejects with its reason, and a late callback does nothing', async (t) => {
  const unhandled = watchUnhandledRejections(t)
  let connections = 0
  const server = await rawServerFor(t, () => connections++)
  const pending = pendingLookup()
  const controller = new AbortController()
  const wss = clientFor(t, `ws://slow-dns.test:${server.port}/`, { lookup: pending.lookup, signal: controller.signal })
  await withTimeout(pending.called, 5000, 'the lookup to be called')
  const reason = new Error('gave up on DNS')
  controller.abort(reason)
  t.is(await rejectionOf(wss.opened, 5000, 'opened'), reason)
  t.is(await rejectionOf(wss.closed, 5000, 'closed'), reason)
  t.notThrows(() => pending.callback(null, [v4('127.0.0.1')]), 'the late callback')
  await delay(300)
  t.is(connections, 0, 'nothing connects after the abort')
  t.deepEqual(unhandled, [])
})

test('close() during the lookup rejects opened with a WebSocketError, and a late callback does nothing', async (t) => {
  const unhandled = watchUnhandledRejections(t)
  let connections = 0
  const server = await rawServerFor(t, () => connections++)
  const pending = pendingLookup()
  const wss = clientFor(t, `ws://slow-dns.test:${server.port}/`, { lookup: pending.lookup })
  await withTimeout(pending.called, 5000, 'the lookup to be called')
  wss.close({ closeCode: 4000, reason: 'not waiting' })
  await assertFailedBeforeOpening(t, wss, 'closed during the lookup')
  t.notThrows(() => pending.callback(null, [v4('127.0.0.1')]), 'the late answer')
  t.notThrows(() => pending.callback(notFound('slow-dns.test')), 'a late error as well')
  await delay(300)
  t.is(connections, 0, 'nothing connects after close()')
  t.deepEqual(unhandled, [])
})

// --- the option itself ------------------------------------------------------------------

test('a lookup that is not a function is a TypeError naming options.lookup', async (t) => {
  for (const lookup of [42, 'dns', {}, true]) {
    const error = thrownBy(t, () => new WebSocketStream('ws://127.0.0.1:1/', { lookup }), `lookup ${inspect(lookup)}`)
    assertTypeError(t, error, `lookup ${inspect(lookup)}`)
    t.regex(error?.message ?? '', /options\.lookup/)
  }
  // undefined is the default resolver.
  const wss = clientFor(t, `ws://127.0.0.1:${await refusedPort()}/`, { lookup: undefined })
  t.true((await rejectionOf(wss.opened, 5000, 'opened')) instanceof WebSocketError)
})
