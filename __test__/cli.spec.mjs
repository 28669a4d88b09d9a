// The `websocketstream` command, spawned against local servers.
import test from 'ava'
import { spawn } from 'node:child_process'
import crypto from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { rawServerFor, recordingServer, wsServerFor } from './helpers/fixtures.mjs'
import { startRawWebSocketServer, textFrame } from './helpers/raw-server.mjs'
import { startWsServer } from './helpers/servers.mjs'
import { withTimeout } from './helpers/settle.mjs'

const cli = fileURLToPath(new URL('../bin/websocketstream.js', import.meta.url))

/**
 * Spawns the command; stdin stays open until the test ends it. Returns
 * { child, output: { stdout: Buffer[], stderr }, exited, printed(text, ms) }:
 * `exited` resolves { status, signal, stdout, stderr, at } (`at`:
 * performance.now() when it exited) once the child has ended and all its
 * output is in, and rejects if that takes over `timeoutMs` (the child is
 * then SIGKILLed, as it is at teardown if still running).
 */
function start(t, args, timeoutMs = 20_000) {
  const child = spawn(process.execPath, [cli, ...args], { stdio: ['pipe', 'pipe', 'pipe'] })
  const output = { stdout: [], stderr: '' }
  child.stdout.on('data', (chunk) => output.stdout.push(chunk))
  child.stderr.on('data', (chunk) => {
    output.stderr += chunk
  })
  child.stdin.on('error', () => {})
  let exitedAt = 0
  child.on('exit', () => {
    exitedAt = performance.now()
  })
  const exited = withTimeout(
    new Promise((resolve) => {
      child.on('close', (status, signal) =>
        resolve({ status, signal, stdout: Buffer.concat(output.stdout), stderr: output.stderr, at: exitedAt }),
      )
    }),
    timeoutMs,
    `websocketstream ${args.join(' ')} to exit`,
  )
  exited.catch(() => child.kill('SIGKILL'))
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  /** Resolves once stdout holds `text`: the command printed a message it received. */
  const printed = (text, ms = 10_000) =>
    withTimeout(
      new Promise((resolve, reject) => {
        const check = () => {
          if (!Buffer.concat(output.stdout).toString().includes(text)) return
          child.stdout.off('data', check)
          resolve()
        }
        child.stdout.on('data', check)
        child.once('close', () => reject(new Error(`the command exited before printing ${text}: ${output.stderr}`)))
        check()
      }),
      ms,
      `the command to print ${JSON.stringify(text)}`,
    )
  return { child, output, exited, printed }
}

/** Runs the command with `input` on stdin; resolves with its status and output. */
function run(t, args, input, timeoutMs = 20_000) {
  const command = start(t, args, timeoutMs)
  command.child.stdin.end(input)
  return command.exited
}

/**
 * A `ws` server that greets each client with "hello" (so a test knows, from
 * the command's stdout, that the connection is open) and then runs
 * `onConnection`; `closes` lists the close `{code, reason}` of each
 * connection as the server saw it, `nextClose()` waits for the next one.
 */
async function greetingServer(t, onConnection = () => {}) {
  const closes = []
  const waiters = new Set()
  const server = await wsServerFor(t, (socket) => {
    socket.on('close', (code, reason) => {
      closes.push({ code, reason: reason.toString() })
      for (const wake of waiters) wake()
    })
    socket.send('hello')
    onConnection(socket)
  })
  let taken = 0
  const nextClose = async (ms = 10_000) => {
    const index = taken++
    await withTimeout(
      new Promise((resolve) => {
        const wake = () => {
          if (closes.length <= index) return
          waiters.delete(wake)
          resolve()
        }
        waiters.add(wake)
        wake()
      }),
      ms,
      'the server to see the close',
    )
    return closes[index]
  }
  return { ...server, closes, nextClose }
}

test('--help prints the usage and exits 0', async (t) => {
  const { status, stdout } = await run(t, ['--help'], '')
  t.is(status, 0)
  t.regex(stdout.toString(), /Usage: websocketstream <url>/)
})

test('stdin lines become text messages and echoes are printed, then a clean close exits 0', async (t) => {
  const received = []
  const server = await startWsServer((socket) => {
    socket.on('message', (data, isBinary) => {
      received.push([data.toString(), isBinary])
      socket.send(data, { binary: isBinary })
    })
  })
  t.teardown(() => server.close())
  const { status, stdout, stderr } = await run(t, [server.url, '--linger', '1000'], 'one\ntwo\r\nthree')
  t.is(status, 0, stderr)
  t.is(stdout.toString(), 'one\ntwo\nthree\n')
  t.deepEqual(received, [
    ['one', false],
    ['two', false],
    ['three', false],
  ])
})

test('--binary sends raw stdin and a large piped input comes back byte for byte', async (t) => {
  const server = await startWsServer()
  t.teardown(() => server.close())
  const input = crypto.randomBytes(8 << 20)
  // --linger-quiet: however long the echoes take, close once they stop.
  const { status, stdout } = await run(t, [server.url, '--binary', '--linger-quiet', '1000'], input)
  t.is(status, 0)
  t.true(stdout.equals(input))
})

test('protocols, headers and the close code and reason reach the server', async (t) => {
  const server = await recordingServer(t, { handleProtocols: (protocols) => [...protocols][1] })
  const { status } = await run(
    t,
    [
      server.url,
      '-p',
      'a',
      '-p',
      'b',
      '-H',
      'Authorization: Bearer cli',
      '--close-code',
      '4001',
      '--close-reason',
      'eof',
      '--linger',
      '0',
    ],
    '',
  )
  t.is(status, 0)
  const [request] = server.requests
  t.is(request.headers['sec-websocket-protocol'], 'a, b')
  t.is(request.headers.authorization, 'Bearer cli')
  t.deepEqual(await server.nextClose(), { code: 4001, reason: 'eof' })
})

test('a refused connection exits 1 with a one-line reason on stderr', async (t) => {
  const server = await startWsServer()
  const { url } = server
  await server.close()
  const { status, stderr } = await run(t, [url], '')
  t.is(status, 1)
  t.regex(stderr, /^websocketstream: .*connection refused.*\n$/)
})

test('an unclean close exits 1', async (t) => {
  const server = await startWsServer((socket) => socket.on('message', () => socket.terminate()))
  t.teardown(() => server.close())
  const { status, stderr } = await run(t, [server.url], 'boom\n')
  t.is(status, 1)
  t.regex(stderr, /closed uncleanly/)
})

test('bad arguments exit 2 (a usage error) with the usage or a message naming the flag', async (t) => {
  const noUrl = await run(t, [], '')
  t.is(noUrl.status, 2)
  t.regex(noUrl.stderr, /Usage: websocketstream <url>/)
  const twoUrls = await run(t, ['ws://127.0.0.1:1/', '-c', 'ws://127.0.0.1:2/'], '')
  t.is(twoUrls.status, 2)
  t.regex(twoUrls.stderr, /expected one URL/)
  t.is((await run(t, ['ws://127.0.0.1:1/', '--no-such-flag'], '')).status, 2)
  for (const [flag, value] of [
    ['--linger', '=-1'],
    ['--linger-quiet', 'soon'],
    ['--connect-timeout', '0'],
    ['--close-timeout', '1.5'],
    ['--idle-timeout', 'abc'],
  ]) {
    const { status, stderr } = await run(
      t,
      ['ws://127.0.0.1:1/', ...(value.startsWith('=') ? [flag + value] : [flag, value])],
      '',
    )
    t.is(status, 2, `${flag} ${value}`)
    t.regex(stderr, new RegExp(`^websocketstream: ${flag} must be a whole number of milliseconds`), `${flag} ${value}`)
  }
  const longReason = await run(t, ['ws://127.0.0.1:1/', '--close-reason', 'x'.repeat(124)], '')
  t.is(longReason.status, 2)
  t.regex(longReason.stderr, /--close-reason must be at most 123 bytes/)
})

test('a bad --close-code exits 2 before connecting, naming the flag and the valid codes', async (t) => {
  const server = await recordingServer(t)
  for (const code of ['999', '1001', '1005', '5000', 'abc', '']) {
    const { status, stderr } = await run(t, [server.url, '--close-code', code], '')
    t.is(status, 2, `--close-code ${JSON.stringify(code)}`)
    t.is(
      stderr,
      `websocketstream: --close-code must be 1000 or a number from 3000 to 4999, got ${JSON.stringify(code)}\n`,
    )
  }
  t.is(server.requests.length, 0, 'no connection was made')
})

for (const signal of ['SIGINT', 'SIGTERM']) {
  test(`${signal} sends a Close 1000 and exits 0 after the closing handshake`, async (t) => {
    const server = await greetingServer(t)
    const command = start(t, [server.url])
    await command.printed('hello\n')
    command.child.kill(signal)
    const { status, stderr } = await command.exited
    t.is(status, 0, stderr)
    t.is(stderr, '')
    t.deepEqual(await server.nextClose(), { code: 1000, reason: '' })
  })
}

test('SIGINT sends the --close-code and --close-reason', async (t) => {
  const server = await greetingServer(t)
  const command = start(t, [server.url, '--close-code', '4002', '--close-reason', 'interrupted'])
  await command.printed('hello\n')
  command.child.kill('SIGINT')
  const { status, stderr } = await command.exited
  t.is(status, 0, stderr)
  t.deepEqual(await server.nextClose(), { code: 4002, reason: 'interrupted' })
})

test('--close-timeout bounds the wait for the server to answer our Close: exit 1 naming the wait', async (t) => {
  const server = await startRawWebSocketServer(t)
  const command = start(t, [server.url, '--close-timeout', '300'])
  const { socket, frames } = await server.connection()
  socket.write(textFrame('hello'))
  await command.printed('hello\n')
  const interruptedAt = performance.now()
  command.child.kill('SIGINT')
  t.deepEqual((await frames.closeFrame()).code, 1000)
  // The server never answers.
  const { status, stderr, at } = await command.exited
  t.is(status, 1)
  t.regex(stderr, /^websocketstream: .*did not answer the Close within 300 ms \(closeTimeout\).*\n$/)
  t.true(at - interruptedAt >= 300, 'it waited for the answer first')
})

test('a second SIGINT while the closing handshake is under way exits 130 at once', async (t) => {
  const server = await startRawWebSocketServer(t)
  const command = start(t, [server.url, '--close-timeout', '60000'])
  const { socket, frames } = await server.connection()
  socket.write(textFrame('hello'))
  await command.printed('hello\n')
  command.child.kill('SIGINT')
  await frames.closeFrame()
  command.child.kill('SIGINT')
  const { status } = await command.exited
  t.is(status, 130)
})

test('a signal before the connection opened exits 130 at once', async (t) => {
  let accepted
  const acceptedPromise = new Promise((resolve) => {
    accepted = resolve
  })
  const server = await rawServerFor(t, () => accepted()) // accepts TCP, never answers the handshake
  const command = start(t, [server.url])
  await withTimeout(acceptedPromise, 10_000, 'the TCP connection')
  command.child.kill('SIGINT')
  const { status } = await command.exited
  t.is(status, 130)
})

test('after stdin ends, --linger bounds the wait for messages even when they keep coming', async (t) => {
  const server = await greetingServer(t, (socket) => {
    const ticker = setInterval(() => socket.send('tick'), 100)
    socket.on('close', () => clearInterval(ticker))
  })
  const command = start(t, [server.url, '--linger', '500'], 15_000)
  await command.printed('tick\n')
  await new Promise((resolve) => setTimeout(resolve, 300))
  const stdinEndedAt = performance.now()
  command.child.stdin.end()
  // Before, every tick restarted the linger and the command never exited.
  const { status, stderr, at } = await command.exited
  t.is(status, 0, stderr)
  t.true(at - stdinEndedAt >= 500, 'it lingered after stdin ended')
  t.deepEqual(await server.nextClose(), { code: 1000, reason: '' })
})

test('--linger-quiet waits after stdin ends until nothing arrived for that long', async (t) => {
  const server = await wsServerFor(t, (socket) => {
    socket.on('message', () => {
      // A reply that keeps coming for about a second, 100 ms apart.
      let sent = 0
      const ticker = setInterval(() => {
        socket.send(`part ${++sent}`)
        if (sent === 10) clearInterval(ticker)
      }, 100)
      socket.on('close', () => clearInterval(ticker))
    })
  })
  const { status, stdout, stderr } = await run(t, [server.url, '--linger-quiet', '1000'], 'go\n')
  t.is(status, 0, stderr)
  t.is(stdout.toString(), Array.from({ length: 10 }, (_, i) => `part ${i + 1}\n`).join(''))
})

test('--connect-timeout gives up on a server that never answers the handshake: exit 1, one line', async (t) => {
  const server = await rawServerFor(t) // accepts TCP, never answers
  const { status, stderr } = await run(t, [server.url, '--connect-timeout', '300'], '', 15_000)
  t.is(status, 1)
  t.is(stderr, `websocketstream: ${server.url} did not open within 300 ms (--connect-timeout)\n`)
})

test('a close with 1011 exits 1 with the code and reason on stderr; 1000 and 1005 exit 0', async (t) => {
  const cases = [
    [
      (socket) => socket.close(1011, 'internal error'),
      1,
      'websocketstream: the connection closed with code 1011: internal error\n',
    ],
    [(socket) => socket.close(4000), 1, 'websocketstream: the connection closed with code 4000\n'],
    [(socket) => socket.close(1000, 'bye'), 0, ''],
    [(socket) => socket.close(), 0, ''], // no code: 1005
  ]
  for (const [close, expectedStatus, expectedStderr] of cases) {
    const server = await greetingServer(t, close)
    const command = start(t, [server.url]) // stdin stays open: the server closes first
    const { status, stderr } = await command.exited
    t.is(status, expectedStatus, expectedStderr)
    t.is(stderr, expectedStderr)
  }
})

test('a URL without a scheme gets ws://, and -c/--connect give the URL as wscat does', async (t) => {
  const server = await recordingServer(t)
  for (const args of [[`127.0.0.1:${server.port}/`], ['-c', server.url], ['--connect', server.url]]) {
    const { status, stdout, stderr } = await run(t, [...args, '--linger', '1000'], 'hi\n')
    t.is(status, 0, `${args.join(' ')}: ${stderr}`)
    t.is(stdout.toString(), 'hi\n', args.join(' '))
  }
  t.is(server.requests.length, 3)
})
