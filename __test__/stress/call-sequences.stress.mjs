// Random call sequences against a live `ws` echo server (fast-check): text
// and binary writes of random sizes, non-string chunks, reads (awaited or
// left pending), close() with valid and invalid codes and reasons,
// writer.close(), cancel(), abort(), releasing and re-taking locks, pauses.
// Invariants, per run:
//  - nothing crashes and nothing rejects unhandled ('unhandledRejection');
//  - every promise the run created (writes, reads, cancel, abort,
//    writer.close, opened, closed) settles within a bound once the run ends;
//  - invalid close arguments throw the exception the draft's
//    close(closeInfo) names (whatwg/websockets#48) and change nothing;
//  - the echoes read are, in order, a prefix of the writes that resolved
//    (nothing lost in the middle, duplicated, reordered or altered); when no
//    close, cancel or abort happened, all of them come back exactly once;
//  - closed reports what the first closing call asked for (the echo server
//    echoes it), and the readable then ends or errors as closed says.
import test from 'ava'
import fc from 'fast-check'
import { WebSocketStream, WebSocketError } from '../../index.mjs'
import { startWsServer } from '../helpers/servers.mjs'
import { withTimeout } from '../helpers/settle.mjs'
import { standing } from './support/checks.mjs'

const SETTLE_MS = 12_000

// --- the commands ------------------------------------------------------------------

const VALID_CODES = [undefined, 1000, 3000, 3999, 4000, 4321, 4999]
const INVALID_CODES = [
  [0, 'InvalidAccessError'],
  [999, 'InvalidAccessError'],
  [1001, 'InvalidAccessError'],
  [1005, 'InvalidAccessError'],
  [2999, 'InvalidAccessError'],
  [5000, 'InvalidAccessError'],
  [65535, 'InvalidAccessError'],
  [70000, 'TypeError'],
  [-1, 'TypeError'],
  [Number.NaN, 'TypeError'],
]
const REASONS = ['', 'bye', 'é☃ reason', '🔌'.repeat(30), 'x'.repeat(123)]
const TOO_LONG_REASONS = ['x'.repeat(124), '🔌'.repeat(31)]

const dataCommands = [
  {
    weight: 6,
    arbitrary: fc.record({
      type: fc.constant('writeText'),
      length: fc.oneof(fc.nat(64), fc.nat(70_000)),
      flavour: fc.constantFrom('ascii', 'unicode', 'lone surrogate'),
    }),
  },
  {
    weight: 5,
    arbitrary: fc.record({
      type: fc.constant('writeBinary'),
      length: fc.oneof(fc.nat(64), fc.nat(4096), fc.nat(300_000)),
      view: fc.constantFrom('Uint8Array', 'ArrayBuffer', 'DataView', 'offset view'),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      type: fc.constant('writeOther'),
      value: fc.constantFrom('number', 'null', 'undefined', 'object', 'boolean', 'bigint'),
    }),
  },
  {
    weight: 6,
    arbitrary: fc.record({ type: fc.constant('read'), count: fc.integer({ min: 1, max: 3 }), wait: fc.boolean() }),
  },
  { weight: 2, arbitrary: fc.record({ type: fc.constant('releaseReader') }) },
  { weight: 2, arbitrary: fc.record({ type: fc.constant('releaseWriter') }) },
  { weight: 2, arbitrary: fc.record({ type: fc.constant('wait'), ms: fc.integer({ min: 0, max: 15 }) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      type: fc.constant('closeInvalid'),
      invalid: fc.oneof(
        fc.constantFrom(...INVALID_CODES).map(([code, name]) => ({ code, name })),
        fc.constantFrom(...TOO_LONG_REASONS).map((reason) => ({ reason, name: 'SyntaxError' })),
      ),
    }),
  },
]
const closingCommands = [
  {
    weight: 1,
    arbitrary: fc.record({
      type: fc.constant('writeFailing'),
      how: fc.constantFrom('symbol', 'throwing toString', 'resizable buffer'),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      type: fc.constant('close'),
      code: fc.constantFrom(...VALID_CODES),
      reason: fc.constantFrom(...REASONS),
      drain: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('writerClose') }) },
  {
    weight: 1,
    arbitrary: fc.record({ type: fc.constant('cancel'), code: fc.option(fc.integer({ min: 3000, max: 4999 })) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ type: fc.constant('abort'), code: fc.option(fc.integer({ min: 3000, max: 4999 })) }),
  },
]
const anyCommand = fc.oneof(...dataCommands, ...closingCommands)
const dataCommand = fc.oneof(...dataCommands)

function makeText(length, flavour) {
  if (flavour === 'ascii') return 'a'.repeat(length)
  if (flavour === 'unicode') return 'é☃🔌x'.repeat(Math.ceil(length / 5)).slice(0, length)
  return `${'b'.repeat(length)}\uD800${'c'.repeat(length % 7)}`
}

function makeBinary(length, view) {
  const bytes = new Uint8Array(length + 8)
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 31 + length) & 0xff
  const exact = bytes.slice(4, 4 + length)
  if (view === 'Uint8Array') return { chunk: exact.slice(), expected: exact }
  if (view === 'ArrayBuffer') return { chunk: exact.slice().buffer, expected: exact }
  if (view === 'DataView') return { chunk: new DataView(exact.slice().buffer), expected: exact }
  return { chunk: new Uint8Array(bytes.buffer, 4, length), expected: exact }
}

const OTHER = {
  number: [123.5, '123.5'],
  null: [null, 'null'],
  undefined: [undefined, 'undefined'],
  object: [{}, '[object Object]'],
  boolean: [false, 'false'],
  bigint: [10n ** 20n, '100000000000000000000'],
}

function failingChunk(how) {
  if (how === 'symbol') return Symbol('not a message')
  if (how === 'throwing toString') {
    return {
      toString() {
        throw new Error('toString refuses')
      },
    }
  }
  return new ArrayBuffer(8, { maxByteLength: 16 })
}

const sameMessage = (a, b) =>
  typeof a === 'string' || typeof b === 'string'
    ? a === b
    : a instanceof Uint8Array &&
      b instanceof Uint8Array &&
      a.byteLength === b.byteLength &&
      a.every((byte, i) => byte === b[i])

const describe = (value) => (typeof value === 'string' ? `text(${value.length})` : `binary(${value?.byteLength})`)

// --- one run -----------------------------------------------------------------------

/**
 * Runs `commands` on a fresh connection to `url` and checks the invariants.
 * Returns figures; throws (with the reason) when an invariant breaks.
 */
async function run(url, commands, figures) {
  const startedAt = performance.now()
  const problems = []
  const check = (condition, message) => {
    if (!condition) problems.push(message)
  }
  const tracked = []
  const track = (label, promise) => {
    const entry = { label, promise, settled: false }
    promise.then(
      () => (entry.settled = true),
      () => (entry.settled = true),
    )
    tracked.push(entry)
    return promise
  }

  const wss = new WebSocketStream(url)
  track('opened', wss.opened)
  track('closed', wss.closed)
  const { readable, writable } = await withTimeout(wss.opened, 10_000, 'opened')

  let reader = null
  let writer = null
  let writerClosing = false // writer.close() called on the current writer's stream
  let writableErrored = false // a failing write errored the writable: abort() and writer.close() then do nothing
  const writes = [] // { expected, promise, outcome } in call order
  const received = []
  let firstClose = null // what the first closing call asked for: { closeCode, reason }
  // writer.close() and abort() act once the writable's queue reaches them, so
  // a later close() or cancel() may overtake them: every closing call is a
  // candidate, and the first one decides only when none of them was queued.
  const candidates = []
  let queuedClose = false
  let interrupted = false // cancel or abort happened (messages may be lost by design)

  const getReader = () => (reader ??= readable.getReader())
  const getWriter = () => (writer ??= writable.getWriter())
  const noteClose = (closeCode, reason, queued = false) => {
    firstClose ??= { closeCode, reason }
    candidates.push({ closeCode, reason })
    if (queued) queuedClose = true
  }
  const write = (chunk, expected) => {
    let promise
    try {
      promise = track(`write ${expected === null ? 'failing' : describe(expected)}`, getWriter().write(chunk))
    } catch (error) {
      // Node's web streams (all lines to 24) throw an internal assertion from
      // writer.write() while the sink's close() is in flight
      // (whatwg/streams#1218); writer.close() stays in flight here until the
      // closing handshake ends (docs/design.md "Decisions where the draft is
      // silent"). Counted, not ours.
      check(writerClosing && error?.code === 'ERR_INTERNAL_ASSERTION', `write() threw synchronously: ${error?.stack}`)
      figures.upstreamAssertions++
      return null
    }
    const entry = { expected, promise, outcome: null }
    if (writerClosing) entry.afterWriterClose = true
    promise.then(
      () => (entry.outcome = 'resolved'),
      () => (entry.outcome = 'rejected'),
    )
    writes.push(entry)
    return promise
  }
  const readsInFlight = new Set()
  const read = () => {
    const promise = track('read', getReader().read())
    readsInFlight.add(promise)
    promise.then(
      ({ value, done }) => {
        readsInFlight.delete(promise)
        if (!done) received.push(value)
      },
      () => readsInFlight.delete(promise),
    )
    return promise
  }

  for (const step of commands) {
    switch (step.type) {
      case 'writeText': {
        const text = makeText(step.length, step.flavour)
        write(text, text.toWellFormed())?.catch(() => {})
        break
      }
      case 'writeBinary': {
        const { chunk, expected } = makeBinary(step.length, step.view)
        write(chunk, expected)?.catch(() => {})
        break
      }
      case 'writeOther': {
        const [value, text] = OTHER[step.value]
        write(value, text)?.catch(() => {})
        break
      }
      case 'writeFailing': {
        const promise = write(failingChunk(step.how), null)
        if (promise === null) break
        const outcome = await standing(promise, 5000)
        check(outcome.status !== 'pending', `a failing write (${step.how}) is still pending`)
        // It rejects unless an earlier close() already dropped it (the
        // conversion still runs then) or the writable was already done.
        check(outcome.status === 'rejected', `a failing write (${step.how}) ${outcome.status}`)
        if (outcome.status === 'rejected' && firstClose === null) writableErrored = true
        break
      }
      case 'read': {
        for (let i = 0; i < step.count; i++) {
          const promise = read()
          if (step.wait) await standing(promise, 50)
        }
        break
      }
      case 'close': {
        const closeInfo = {}
        if (step.code !== undefined) closeInfo.closeCode = step.code
        if (step.reason !== '') closeInfo.reason = step.reason
        if (step.drain && firstClose === null && !interrupted) await drain()
        let threw = null
        try {
          wss.close(closeInfo)
        } catch (error) {
          threw = error
        }
        check(threw === null, `close(${JSON.stringify(closeInfo)}) threw ${threw?.name}`)
        noteClose(step.code ?? (step.reason === '' ? 1005 : 1000), step.reason)
        break
      }
      case 'closeInvalid': {
        const { code, reason, name } = step.invalid
        const closeInfo = code === undefined ? { reason } : { closeCode: code, reason: 'r' }
        let threw = null
        try {
          wss.close(closeInfo)
        } catch (error) {
          threw = error
        }
        check(threw?.name === name, `close(${JSON.stringify(closeInfo)}) threw ${threw?.name}, not ${name}`)
        if (name === 'TypeError') check(threw instanceof TypeError, 'a real TypeError')
        else check(threw instanceof DOMException, `a DOMException ${name}`)
        break
      }
      case 'writerClose': {
        writerClosing = true
        track('writer.close()', getWriter().close()).catch(() => {})
        if (!writableErrored) noteClose(1005, '', true)
        break
      }
      case 'cancel': {
        const reason =
          step.code === null
            ? new Error('cancelled')
            : new WebSocketError('', { closeCode: step.code, reason: 'cancel' })
        const promise = track('cancel()', reader ? reader.cancel(reason) : readable.cancel(reason))
        promise.catch(() => {})
        interrupted = true
        if (!readable.locked || reader) noteClose(step.code ?? 1005, step.code === null ? '' : 'cancel')
        break
      }
      case 'abort': {
        const reason =
          step.code === null ? new Error('aborted') : new WebSocketError('', { closeCode: step.code, reason: 'abort' })
        track('abort()', writer ? writer.abort(reason) : writable.abort(reason)).catch(() => {})
        // Aborting an errored writable does nothing (Streams): the connection stays open.
        if (writableErrored) break
        interrupted = true
        noteClose(step.code ?? 1005, step.code === null ? '' : 'abort', true)
        break
      }
      case 'releaseReader': {
        reader?.releaseLock()
        reader = null
        break
      }
      case 'releaseWriter': {
        writer?.releaseLock()
        writer = null
        break
      }
      case 'wait': {
        // A pause in the sequence: time passing is the command.
        await new Promise((resolve) => setTimeout(resolve, step.ms))
        break
      }
    }
  }

  /** Waits for every write, then reads until each resolved write has come back. */
  async function drain() {
    await standing(Promise.allSettled(writes.map((entry) => entry.promise)), 10_000)
    const expected = writes.filter((entry) => entry.outcome === 'resolved').length
    const deadline = performance.now() + 10_000
    while (received.length < expected && performance.now() < deadline) {
      // Reads already pending take echoes first; read more only when none is.
      const next = readsInFlight.size > 0 ? Promise.race(readsInFlight) : read()
      const outcome = await standing(next, deadline - performance.now())
      // An ended or errored readable brings no more echoes.
      if (outcome.status === 'rejected' || outcome.value?.done) break
    }
  }

  // The end of the run: a connection nobody closed is drained, compared and closed.
  const cleanEnd = firstClose === null && !interrupted
  if (cleanEnd) {
    await drain()
    noteClose(1000, 'end of run')
    wss.close({ closeCode: 1000, reason: 'end of run' })
  }

  const endedAt = performance.now()
  const closed = await standing(wss.closed, SETTLE_MS)
  check(closed.status !== 'pending', `closed still pending ${SETTLE_MS} ms after the run`)
  // Reading on after closed: the messages still queued, then done (clean),
  // or at once the closed error (unclean).
  if (closed.status !== 'pending') {
    let last
    for (let i = 0; i < 10_000; i++) {
      last = await standing(read(), 2000)
      if (last.status !== 'fulfilled' || last.value.done) break
      check(closed.status === 'fulfilled', 'an errored readable still gave a message')
    }
    if (closed.status === 'fulfilled')
      check(last.status === 'fulfilled' && last.value.done, `reading on after a clean close: ${last.status}`)
    else
      check(
        last.status === 'rejected' && last.reason === closed.reason,
        `reading on after an unclean close: ${last.status}`,
      )
  }
  await standing(Promise.allSettled(tracked.map((entry) => entry.promise)), 2000)
  const settleMs = performance.now() - endedAt
  const pending = tracked.filter((entry) => !entry.settled).map((entry) => entry.label)
  check(pending.length === 0, `still pending after the run: ${pending.join(', ')}`)

  // Echo order and integrity.
  const resolved = writes.filter((entry) => entry.outcome === 'resolved')
  check(received.length <= resolved.length, `${received.length} echoes for ${resolved.length} resolved writes`)
  const firstMismatch = received.findIndex((value, i) => !sameMessage(value, resolved[i]?.expected))
  check(
    firstMismatch === -1,
    `echo ${firstMismatch} is ${describe(received[firstMismatch])}, expected ${describe(resolved[firstMismatch]?.expected)}`,
  )
  if (cleanEnd) {
    check(received.length === resolved.length, `clean run: ${received.length} echoes for ${resolved.length} writes`)
    check(
      writes.every(
        (entry) => entry.outcome === 'resolved' || entry.expected === null || writes.some((w) => w.expected === null),
      ),
      'clean run: a valid write rejected without a failing write before it',
    )
  }

  // closed reports the first closing call (the echo server echoes it), unless
  // the connection was interrupted by a write failure racing it.
  if (closed.status === 'fulfilled') {
    const expected = queuedClose ? candidates : [firstClose]
    check(
      expected.some(({ closeCode, reason }) => closed.value.closeCode === closeCode && closed.value.reason === reason),
      `closed ${JSON.stringify(closed.value)}, expected ${expected.map((c) => JSON.stringify(c)).join(' or ')}`,
    )
  } else if (closed.status === 'rejected') {
    check(closed.reason instanceof WebSocketError, `closed rejected with ${closed.reason?.name}`)
    problems.push(
      `closed rejected (${closed.reason?.closeCode}: ${closed.reason?.message}) though the echo server answers every Close`,
    )
  }

  if (problems.length > 0) {
    throw new Error(`${problems.join('\n')}\n  commands: ${JSON.stringify(commands.map((c) => c.type))}`)
  }
  const runMs = performance.now() - startedAt
  if (runMs > 1500)
    figures.slow.push(`${runMs.toFixed(0)} ms (settle ${settleMs.toFixed(0)}): ${JSON.stringify(commands)}`)
  figures.runs++
  if (cleanEnd) figures.cleanRuns++
  figures.promises += tracked.length
  figures.messages += received.length
  figures.longestSettle = Math.max(figures.longestSettle, settleMs)
}

const randomSequences = test.macro(async (t, commands, runs, examples) => {
  const server = await startWsServer()
  t.teardown(() => server.close())
  const unhandled = []
  const onUnhandled = (reason) => unhandled.push(reason)
  process.on('unhandledRejection', onUnhandled)
  t.teardown(() => process.off('unhandledRejection', onUnhandled))

  const figures = { runs: 0, promises: 0, messages: 0, longestSettle: 0, upstreamAssertions: 0, slow: [], cleanRuns: 0 }
  const property = fc.assert(
    fc.asyncProperty(commands, async (sequence) => {
      await run(server.url, sequence, figures)
      // An unhandled rejection surfaces a turn later: give it that turn.
      await new Promise((resolve) => setImmediate(resolve))
      if (unhandled.length > 0) throw new Error(`unhandled rejection: ${unhandled[0]?.stack ?? unhandled[0]}`)
    }),
    { numRuns: runs, interruptAfterTimeLimit: 150_000, markInterruptAsFailure: true, verbose: 1, examples },
  )
  try {
    await property
  } catch (error) {
    // fast-check keeps the property's own error as the cause; show both.
    const cause = error.cause instanceof Error ? error.cause.message : String(error.cause ?? '')
    for (const line of figures.slow.slice(0, 10)) t.log(line)
    t.fail(`${error.message}\n\nThe invariant broken:\n${cause}`)
    return
  }
  for (const line of figures.slow.slice(0, 10)) t.log(`slow run: ${line.slice(0, 600)}`)
  t.deepEqual(unhandled, [], 'no unhandled rejection')
  t.is(figures.runs, runs)
  t.log(
    `${figures.runs} runs (${figures.cleanRuns} ending without a close, cancel or abort: compared exactly), ` +
      `${figures.promises} promises, ${figures.messages} echoes checked; ` +
      `longest wait for everything to settle after a run: ${figures.longestSettle.toFixed(1)} ms; ` +
      `Node's writer.write()-during-close assertion hit ${figures.upstreamAssertions} times`,
  )
})

// Sequences that once broke an invariant of this file's model, kept as examples.
const knownSequences = [
  [
    [
      { type: 'writerClose' },
      { type: 'writeText', length: 0, flavour: 'ascii' },
      { type: 'read', count: 1, wait: false },
    ],
  ],
  [
    [
      { type: 'writeFailing', how: 'symbol' },
      { type: 'abort', code: null },
      { type: 'releaseWriter' },
      { type: 'read', count: 2, wait: false },
    ],
  ],
  [
    [
      { type: 'releaseWriter' },
      { type: 'read', count: 1, wait: false },
      { type: 'writeBinary', length: 61, view: 'offset view' },
      { type: 'read', count: 2, wait: false },
    ],
  ],
]

test(
  'random call sequences (writes, reads, close with valid and invalid codes, cancel, abort, lock changes) against a ws echo server keep every invariant',
  randomSequences,
  fc.array(anyCommand, { minLength: 1, maxLength: 30, size: 'medium' }),
  200,
  knownSequences,
)

test(
  'random writes, reads and lock changes without a close: every message comes back exactly once, in order, intact',
  randomSequences,
  fc.array(dataCommand, { minLength: 1, maxLength: 40, size: 'large' }),
  100,
  [],
)
