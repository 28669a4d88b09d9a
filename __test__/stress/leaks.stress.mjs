// Lifecycle and leaks (docs/design.md "Threads and what each owns": what
// keeps a session and the process alive, a collected stream ending its
// connection; "Decisions where the draft is silent": an open connection
// keeps the process alive and nothing native does once it closed; "Limits":
// small per-connection buffers; worker_threads, and workers terminated
// mid-connection, leave no socket behind). Every scenario runs in a child
// process: its descriptors and RSS are its own, a native crash shows as a
// signal, and a leaked handle shows as a process that does not end.
import test from 'ava'
import { fileURLToPath } from 'node:url'
import { withTimeout } from '../helpers/settle.mjs'
import { spawnChild } from '../helpers/child-process.mjs'
import { nodeChild, serverChild } from './support/child.mjs'
import { MiB } from './support/checks.mjs'
import { refusedPort } from '../helpers/servers.mjs'

const mib = (bytes) => `${(bytes / MiB).toFixed(1)} MiB`

/** Waits for the child to end by itself and asserts it ended with code 0, no signal. */
async function assertCleanExit(t, child, ms, label) {
  const { code, signal } = await withTimeout(child.exited, ms, `${label} to exit by itself`)
  t.is(signal, null, `${label} was killed by ${signal} (a native crash?): ${child.output.stderr.slice(-2000)}`)
  t.is(code, 0, `${label} exited with ${code}: ${child.output.stderr.slice(-2000)}`)
}

const phase = (child, name) => child.jsonLines().find((line) => line.phase === name)

test.serial(
  '10,000 connect/echo/close cycles: every cycle clean, descriptors and RSS back near where they started',
  async (t) => {
    const server = await serverChild(t, 'ws', { args: ['--quiet'] })
    const cycles = 10_000
    const client = nodeChild(t, 'cycles.mjs', [`${server.url}echo`, String(cycles), '8', '500'], {
      nodeArgs: ['--expose-gc'],
      killAfterMs: 150_000,
    })
    await assertCleanExit(t, client, 150_000, 'the cycling client')
    const start = phase(client, 'start')
    const warm = phase(client, 'warm')
    const end = phase(client, 'end')
    const result = phase(client, 'result')
    t.is(result.cycles, cycles)
    t.is(result.failures, 0, `failed cycles; the first: ${result.firstFailure}`)
    t.true(end.fds <= start.fds + 10, `descriptors: ${start.fds} at the start, ${end.fds} after ${cycles} cycles`)
    t.true(end.rss - warm.rss < 60 * MiB, `RSS grew ${mib(end.rss - warm.rss)} after the warm-up`)
    t.true(
      end.heapUsed - warm.heapUsed < 16 * MiB,
      `the JS heap grew ${mib(end.heapUsed - warm.heapUsed)} after the warm-up`,
    )
    const middle = phase(client, 'middle')
    t.log(
      `${result.cycles} cycles in ${(result.elapsedMs / 1000).toFixed(1)} s, 8 at a time; ` +
        `fds ${start.fds} → ${warm.fds} (after 500) → ${end.fds}; ` +
        `RSS ${mib(start.rss)} → ${mib(warm.rss)} (after 500) → ${mib(middle.rss)} (after ${middle.cycles}) → ${mib(end.rss)}; ` +
        `JS heap ${mib(warm.heapUsed)} → ${mib(end.heapUsed)}`,
    )
  },
)

test.serial(
  '1,000,000 messages through one connection: every echo in order and intact, RSS flat after the warm-up',
  async (t) => {
    const server = await serverChild(t, 'ws', { args: ['--quiet'] })
    const count = 1_000_000
    const client = nodeChild(t, 'million.mjs', [`${server.url}echo`, String(count), '100000'], {
      nodeArgs: ['--expose-gc'],
      killAfterMs: 150_000,
    })
    await assertCleanExit(t, client, 150_000, 'the million-message client')
    const result = phase(client, 'result')
    t.is(result.received, count)
    t.is(result.wrong, 0, 'every echo in order, of the right kind and intact')
    t.deepEqual(result.closed, { closeCode: 1000, reason: 'million' })
    const samples = client.jsonLines().filter((line) => line.phase === 'sample')
    t.is(samples.length, 10)
    const warm = samples[1] // after 200,000 messages
    const peak = Math.max(...samples.slice(1).map((sample) => sample.rss))
    t.true(peak - warm.rss < 40 * MiB, `RSS grew ${mib(peak - warm.rss)} over the last 800,000 messages`)
    const heapPeak = Math.max(...samples.slice(1).map((sample) => sample.heapUsed))
    t.true(heapPeak - warm.heapUsed < 16 * MiB, `the JS heap grew ${mib(heapPeak - warm.heapUsed)}`)
    t.log(
      `${count} messages in ${(result.elapsedMs / 1000).toFixed(1)} s (${Math.round(count / (result.elapsedMs / 1000))}/s); ` +
        `RSS by 100k: ${samples.map((sample) => (sample.rss / MiB).toFixed(0)).join(' ')} MiB`,
    )
  },
)

test.serial(
  '20 rounds of 10 workers holding connections, terminated at random points: the main thread keeps talking, no socket is left, the process exits cleanly',
  async (t) => {
    const server = await serverChild(t, 'ws', { args: ['--quiet'] })
    const stall = await serverChild(t, 'stall-handshake')
    const seed = Date.now() % 1_000_000
    const child = nodeChild(t, 'worker-rounds.mjs', [server.url, stall.url, '20', '10', String(seed)], {
      killAfterMs: 150_000,
    })
    const { code, signal } = await withTimeout(child.exited, 150_000, 'the worker rounds to end')
    const rounds = child.jsonLines().filter((line) => line.phase === 'round')
    t.log(
      `seed ${seed}; rounds completed: ${rounds.length}; main-thread echoes after each: ${rounds.map((round) => round.echoes).join(' ')}`,
    )
    t.is(signal, null, `killed by ${signal} (a native crash?): ${child.output.stderr.slice(-2000)}`)
    const stalled = phase(child, 'stalled')
    t.is(
      stalled,
      undefined,
      `the main thread stopped getting echoes after round ${stalled?.round} (${stalled?.probe}, ${stalled?.terminated} workers terminated)`,
    )
    t.is(code, 0, child.output.stderr.slice(-2000))
    const result = phase(child, 'result')
    if (!t.truthy(result, 'the child reported its result')) return
    t.is(result.terminated, 200)
    t.is(result.workerErrors, 0)
    t.is(result.wrongEchoes, 0)
    t.true(
      result.echoesPerRound.every((count) => count > 0),
      `main-thread echoes per round: ${result.echoesPerRound.join(' ')}`,
    )
    t.deepEqual(result.closed, { closeCode: 1000, reason: 'rounds done' })
    t.true(
      result.socketsAfter <= result.socketsBefore + 2,
      `sockets of the child: ${result.socketsBefore} before the rounds, ${result.socketsAfter} after all 200 workers were terminated`,
    )
    t.log(
      `200 workers terminated (${JSON.stringify(result.whens)}), ${result.readyBeforeTermination} after reporting ready; ${result.echoes} main-thread echoes; sockets ${result.socketsBefore} → ${result.socketsAfter}`,
    )
  },
)

test('workers terminated while other workers connect leave the rest of the process working', async (t) => {
  const server = await serverChild(t, 'ws', { args: ['--quiet'] })
  const child = nodeChild(t, 'worker-faults.mjs', ['concurrent-floods', server.url], { killAfterMs: 60_000 })
  await assertCleanExit(t, child, 60_000, 'the scenario')
  const result = phase(child, 'result')
  t.deepEqual(result.workers, Array(6).fill('ready'), 'every worker opened its connection')
  t.is(result.echo, 'ok', "the main thread's connection still echoes")
  t.is(result.freshOpened, 'ok', 'a new connection still opens')
})

test('a worker terminated with a write pending to a server that does not read leaves no socket open', async (t) => {
  const server = await serverChild(t, 'ws', { args: ['--quiet'] })
  const child = nodeChild(t, 'worker-faults.mjs', ['pending-write', server.url], { killAfterMs: 60_000 })
  await assertCleanExit(t, child, 60_000, 'the scenario')
  const result = phase(child, 'result')
  t.is(result.ready, 'ready')
  t.is(result.socketsWhileHeld, result.socketsBefore + 1, 'the worker held one socket')
  t.is(
    result.socketsAfter,
    result.socketsBefore,
    `2 s after terminate(): ${result.socketsAfter - result.socketsBefore} socket(s) still open`,
  )
})

test('under plain node, a script exits by itself right after its last connection closes, whatever ended the others', async (t) => {
  const server = await serverChild(t, 'ws', { args: ['--quiet'] })
  const stall = await serverChild(t, 'stall-handshake')
  const child = nodeChild(t, 'last-close.mjs', [server.url, `ws://127.0.0.1:${await refusedPort()}/`, stall.url], {
    killAfterMs: 60_000,
  })
  let exitedAt = null
  child.child.once('exit', () => (exitedAt = Date.now()))
  await assertCleanExit(t, child, 60_000, 'the script')
  t.true(child.output.stdout.includes('all endings done'), child.output.stdout)
  t.true(child.output.stdout.includes('last echo: still here'), child.output.stdout)
  const match = /LAST_CLOSED (\d+) 1000/.exec(child.output.stdout)
  if (!t.truthy(match, `the last connection closed cleanly: ${child.output.stdout}`)) return
  const lingered = exitedAt - Number(match[1])
  t.true(lingered < 1000, `the process ended ${lingered} ms after its last connection closed`)
  t.log(`80 connections ended 8 ways, then the last one closed; the process ended ${lingered} ms later`)
})

test('under node --test, a test file whose connections all closed lets the runner finish by itself', async (t) => {
  const server = await serverChild(t, 'ws', { args: ['--quiet'] })
  const stall = await serverChild(t, 'stall-handshake')
  const directory = fileURLToPath(new URL('./fixtures/node-test/', import.meta.url))
  const since = Date.now()
  const runner = spawnChild(t, process.execPath, ['--test', 'exits.test.mjs'], {
    cwd: directory,
    env: { WSS_URL: server.url, WSS_REFUSED_URL: `ws://127.0.0.1:${await refusedPort()}/`, WSS_STALL_URL: stall.url },
    killAfterMs: 60_000,
  })
  await assertCleanExit(t, runner, 60_000, 'node --test')
  const output = runner.output.stdout
  t.regex(output, /^# pass 6$/m, output)
  t.regex(output, /^# fail 0$/m, output)
  t.log(`node --test finished by itself in ${Date.now() - since} ms`)
})
