// The process warnings for options that do not mean what their author meant
// (lib/option-warnings.js): an array as options (WebSocket's protocols
// habit) and other clients' options. Each is emitted once per process, names
// the fix, and changes nothing: the draft ignores those members, and so do
// we. Warnings are once per process, so every test runs its own Node
// process, whose `warning` events it prints as JSON lines.
import test from 'ava'
import { spawnChild } from './helpers/child-process.mjs'
import { recordingServer } from './helpers/fixtures.mjs'
import { withTimeout } from './helpers/settle.mjs'

const INDEX = new URL('../index.mjs', import.meta.url).href

// Before each child's own code: `print(value)` writes a JSON line, `step`
// names what the code is doing when a warning arrives (a warning is emitted
// on a later tick: `settle()` lets it arrive), `construct(options)` makes a
// client whose rejections are handled, `inert(options)` one that never
// connects (an aborted signal added to a copy of `options`).
const PRELUDE = `
import { WebSocketStream } from ${JSON.stringify(INDEX)}
const print = (value) => console.log(JSON.stringify(value))
let step = 'start'
process.on('warning', ({ name, code, message }) => print({ warning: { step, name, code, message } }))
const settle = () => new Promise((resolve) => setImmediate(resolve))
const construct = (options) => {
  const wss = new WebSocketStream('ws://127.0.0.1:9/', options)
  wss.opened.catch(() => {})
  wss.closed.catch(() => {})
  return wss
}
const inert = (options) => construct({ ...options, signal: AbortSignal.abort() })
`

/**
 * Runs `code` (after PRELUDE) in a Node process of its own, with `env`.
 * Resolves its warnings and its other JSON lines, once it exited with code 0.
 */
async function runInChild(t, code, env = {}) {
  const child = spawnChild(t, process.execPath, ['--input-type=module', '-e', PRELUDE + code], {
    killAfterMs: 30_000,
    env,
  })
  const { code: exitCode, signal } = await withTimeout(child.exited, 30_000, 'the child to exit')
  t.is(signal, null, child.output.stderr)
  t.is(exitCode, 0, child.output.stderr)
  const lines = child.jsonLines()
  return {
    warnings: lines.filter((line) => line.warning).map((line) => line.warning),
    lines: lines.filter((line) => !line.warning),
    stderr: child.output.stderr,
  }
}

test('an array as options warns once, naming { protocols }, and offers no subprotocol as before', async (t) => {
  const server = await recordingServer(t)
  const { warnings, lines, stderr } = await runInChild(
    t,
    `
    const open = async (options) => {
      const wss = new WebSocketStream(process.env.WS_URL, options)
      const { protocol } = await wss.opened
      wss.close()
      await wss.closed
      return protocol
    }
    step = 'first array'
    print({ step, protocol: await open(['chat']) })
    step = 'second array'
    print({ step, protocol: await open(['chat', 'superchat']) })
    step = 'protocols'
    print({ step, protocol: await open({ protocols: ['chat'] }) })
    await settle()
    `,
    { WS_URL: server.url },
  )

  t.is(warnings.length, 1, 'one warning for two arrays')
  t.like(warnings[0], { step: 'first array', name: 'WebSocketStreamWarning', code: 'WEBSOCKETSTREAM_OPTIONS_ARRAY' })
  t.regex(warnings[0].message, /\{ protocols: \['chat'\] \}/, 'it names the fix')
  t.regex(stderr, /\[WEBSOCKETSTREAM_OPTIONS_ARRAY\] WebSocketStreamWarning: /, 'Node prints it')

  // The behaviour is the draft's: an array is a dictionary without `protocols`.
  t.deepEqual(
    lines.map((line) => line.protocol),
    ['', '', 'chat'],
  )
  t.deepEqual(
    server.requests.map((request) => request.headers['sec-websocket-protocol']),
    [undefined, undefined, 'chat'],
    'the server saw no subprotocol offered for either array, and the one { protocols } offers',
  )
})

// Each option of another client, what the warning must name, and what it must say to do instead.
const FOREIGN_OPTIONS = [
  [{ handshakeTimeout: 5000 }, ['options.handshakeTimeout'], /signal: AbortSignal\.timeout\(ms\)/],
  [{ followRedirects: true }, ['options.followRedirects'], /redirects are not followed/],
  [{ maxRedirects: 3 }, ['options.maxRedirects'], /redirects are not followed/],
  [{ rejectUnauthorized: false }, ['options.rejectUnauthorized'], /tls: \{ rejectUnauthorized \}/],
  [{ ca: 'pem', cert: 'pem', key: 'pem' }, ['options.ca', 'options.cert', 'options.key'], /tls: \{ ca, cert, key \}/],
  [{ servername: 'example.test' }, ['options.servername'], /tls: \{ servername \}/],
  [{ protocol: 'chat' }, ['options.protocol '], /protocols: \['chat'\]/],
  [{ agent: {} }, ['options.agent'], /proxy: 'http:\/\/host:port'/],
  [{ maxPayload: 1024 }, ['options.maxPayload'], /maxMessageSize/],
  [{ origin: 'https://example.test' }, ['options.origin'], /headers: \{ Origin: /],
  [{ dispatcher: {} }, ['options.dispatcher'], /proxy: 'http:\/\/host:port'.*tls/],
]

test('each option of ws or undici that we do not take warns once, naming it and what to use instead', async (t) => {
  const { warnings } = await runInChild(
    t,
    `
    const cases = ${JSON.stringify(FOREIGN_OPTIONS.map(([options]) => options))}
    for (const [index, options] of cases.entries()) {
      step = 'first ' + index
      inert(options)
      await settle()
      step = 'again ' + index
      inert(options)
      await settle()
    }
    step = 'all at once'
    inert(Object.assign({}, ...cases))
    await settle()
    `,
  )

  for (const [index, [options, names, fix]] of FOREIGN_OPTIONS.entries()) {
    const label = JSON.stringify(options)
    const first = warnings.filter((warning) => warning.step === `first ${index}`)
    t.is(first.length, 1, `${label}: one warning`)
    t.like(first[0], { name: 'WebSocketStreamWarning', code: 'WEBSOCKETSTREAM_IGNORED_OPTION' }, label)
    for (const name of names) t.true(first[0]?.message.includes(name), `${label}: the warning names ${name}`)
    t.regex(first[0]?.message ?? '', fix, `${label}: the warning names the fix`)
    t.deepEqual(
      warnings.filter((warning) => warning.step === `again ${index}`),
      [],
      `${label}: not again`,
    )
  }
  t.deepEqual(
    warnings.filter((warning) => warning.step === 'all at once'),
    [],
    'none again, all together',
  )
  t.is(warnings.length, FOREIGN_OPTIONS.length)
})

test('a TLS option at the top level warns for the names not yet named; our own options never warn', async (t) => {
  const { warnings } = await runInChild(
    t,
    `
    step = 'ours'
    inert({
      protocols: ['chat'],
      headers: { origin: 'https://example.test' },
      tls: { rejectUnauthorized: true, servername: 'example.test' },
      maxMessageSize: 1024,
      perMessageDeflate: { threshold: 0, level: 1 },
      idleTimeout: 1000,
      closeTimeout: 1000,
      lookup: (hostname, options, callback) => callback(null, '127.0.0.1', 4),
      proxy: 'http://127.0.0.1:3128',
    })
    construct(undefined)
    construct(null)
    inert({})
    await settle()
    step = 'ca'
    inert({ ca: 'pem' })
    await settle()
    step = 'ca and key'
    inert({ ca: 'pem', cert: 'pem', key: 'pem' })
    await settle()
    step = 'undefined'
    inert({ handshakeTimeout: undefined })
    await settle()
    `,
  )
  t.deepEqual(
    warnings.map(({ step, message }) => [step, message.match(/options\.\w+/g)]),
    [
      ['ca', ['options.ca']],
      ['ca and key', ['options.cert', 'options.key']],
    ],
    'our members, no options and an undefined member say nothing',
  )
})

test('the check calls no getter and no Proxy trap, and looks only at plain objects', async (t) => {
  const { warnings, lines } = await runInChild(
    t,
    `
    const reads = []
    step = 'getter'
    construct({
      get handshakeTimeout() { reads.push('handshakeTimeout'); return 5000 },
      get idleTimeout() { reads.push('idleTimeout'); return 1000 },
      signal: AbortSignal.abort(),
    })
    await settle()
    step = 'proxy'
    const traps = []
    const handler = {}
    for (const trap of ['get', 'has', 'ownKeys', 'getOwnPropertyDescriptor', 'getPrototypeOf']) {
      handler[trap] = (...args) => {
        traps.push([trap, typeof args[1] === 'string' ? args[1] : null])
        return Reflect[trap](...args)
      }
    }
    construct(new Proxy({ maxPayload: 1, signal: AbortSignal.abort() }, handler))
    await settle()
    step = 'class instance'
    class Settings { constructor() { this.origin = 'https://example.test'; this.signal = AbortSignal.abort() } }
    construct(new Settings())
    await settle()
    print({ reads, traps })
    `,
  )
  t.deepEqual(
    warnings.map(({ step, message }) => [step, message.match(/options\.\w+/g)]),
    [['getter', ['options.handshakeTimeout']]],
    'an accessor counts as set; a Proxy and a class instance are not looked at',
  )
  const [{ reads, traps }] = lines
  t.deepEqual(reads, ['idleTimeout'], 'only the real member was read, once')
  // What the dictionary conversion reads: each member once, with [[Get]] only.
  const members = traps.map(([, key]) => key)
  t.deepEqual(
    traps.filter(([trap]) => trap !== 'get'),
    [],
    'no own-keys, descriptor, prototype or has trap',
  )
  t.deepEqual(members, [...new Set(members)], 'each member read once')
  t.true(members.includes('signal') && members.includes('protocols') && members.includes('tls'))
  t.false(members.includes('maxPayload'), 'the foreign member is not read')
})
