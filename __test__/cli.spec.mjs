// The `websocketstream` command, spawned against local servers.
import test from 'ava'
import { spawn } from 'node:child_process'
import crypto from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { startWsServer } from './helpers/servers.mjs'
import { recordingServer } from './helpers/fixtures.mjs'

const cli = fileURLToPath(new URL('../bin/websocketstream.js', import.meta.url))

/** Runs the command with `input` on stdin; resolves with its status and output. */
function run(args, input, timeoutMs = 20_000) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], { stdio: ['pipe', 'pipe', 'pipe'] })
    const stdout = []
    let stderr = ''
    child.stdout.on('data', (chunk) => stdout.push(chunk))
    child.stderr.on('data', (chunk) => {
      stderr += chunk
    })
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`websocketstream ${args.join(' ')} did not exit within ${timeoutMs} ms`))
    }, timeoutMs)
    child.on('close', (status) => {
      clearTimeout(timer)
      resolve({ status, stdout: Buffer.concat(stdout), stderr })
    })
    child.stdin.on('error', () => {})
    child.stdin.end(input)
  })
}

test('--help prints the usage and exits 0', async (t) => {
  const { status, stdout } = await run(['--help'], '')
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
  const { status, stdout, stderr } = await run([server.url, '--linger', '1000'], 'one\ntwo\r\nthree')
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
  const { status, stdout } = await run([server.url, '--binary', '--linger', '1000'], input)
  t.is(status, 0)
  t.true(stdout.equals(input))
})

test('protocols, headers and the close code and reason reach the server', async (t) => {
  const server = await recordingServer(t, { handleProtocols: (protocols) => [...protocols][1] })
  const { status } = await run(
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
  const { status, stderr } = await run([url], '')
  t.is(status, 1)
  t.regex(stderr, /^websocketstream: .*connection refused.*\n$/)
})

test('an unclean close exits 1', async (t) => {
  const server = await startWsServer((socket) => socket.on('message', () => socket.terminate()))
  t.teardown(() => server.close())
  const { status, stderr } = await run([server.url], 'boom\n')
  t.is(status, 1)
  t.regex(stderr, /closed uncleanly/)
})

test('bad arguments exit 1 with the usage', async (t) => {
  t.is((await run([], '')).status, 1)
  const badCode = await run(['ws://127.0.0.1:1/', '--close-code', '1001'], '')
  t.is(badCode.status, 1)
  t.regex(badCode.stderr, /close code/)
})
