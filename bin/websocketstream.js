#!/usr/bin/env node
// @ts-check
'use strict'
// `websocketstream <url>`: stdin lines become text messages (or, with
// --binary, stdin chunks become binary messages), received messages go to
// stdout, with backpressure end to end: a slow stdout slows the server down,
// a slow server slows the reading of stdin.

const fs = require('node:fs')
const os = require('node:os')
const { parseArgs } = require('node:util')
const { Readable, Writable } = require('node:stream')
const { TransformStream } = require('node:stream/web')
const { WebSocketError, WebSocketStream } = require('../index.js')

const USAGE = `Usage: websocketstream <url> [options]
       websocketstream -c <url> [options]

Connects to a WebSocket server, sends each line of stdin as a text message
and prints each message received (text followed by a newline, binary as raw
bytes). A URL without a scheme gets ws://. When stdin ends, or on Ctrl-C
(SIGINT) or SIGTERM, it sends a Close and exits once the server answers.

Options:
  -c, --connect <url>       the URL to connect to (wscat's spelling)
  -p, --protocol <name>     offer a subprotocol (repeatable)
  -H, --header <name:value> add a request header (repeatable)
      --ca <file>           trust the CA certificates in this PEM file
  -k, --insecure            do not verify the server's certificate
      --proxy <url>         connect through this HTTP CONNECT proxy
      --connect-timeout <ms>
                            give up when the connection is not open after
                            this long (off by default)
      --idle-timeout <ms>   fail the connection when the server sends nothing,
                            not even a pong, for twice this long (off by default)
  -b, --binary              send stdin as binary messages, chunk by chunk
      --close-code <code>   close code to send: 1000 (the default) or 3000-4999
      --close-reason <text> close reason to send (at most 123 bytes)
      --close-timeout <ms>  after our Close, wait this long for the server's
                            before giving up (default 5000)
      --linger <ms>         after stdin ends, keep printing messages for this
                            long, then close (default 500)
      --linger-quiet <ms>   after stdin ends, close once nothing has arrived
                            for this long (with --linger, at most that long)
  -h, --help                show this help

Exit status: 0 after a close with 1000, 1005 (no code) or our --close-code;
1 after any other close or a failure, with the reason on stderr; 2 for a
usage error; 130 (SIGINT) or 143 (SIGTERM) for a signal before the
connection opened or once our Close is sent (a second Ctrl-C leaves at once).`

/** @satisfies {NonNullable<import('node:util').ParseArgsConfig['options']>} */
const OPTIONS = {
  connect: { type: 'string', short: 'c' },
  protocol: { type: 'string', short: 'p', multiple: true, default: [] },
  header: { type: 'string', short: 'H', multiple: true, default: [] },
  ca: { type: 'string' },
  insecure: { type: 'boolean', short: 'k', default: false },
  proxy: { type: 'string' },
  'connect-timeout': { type: 'string' },
  'idle-timeout': { type: 'string' },
  binary: { type: 'boolean', short: 'b', default: false },
  'close-code': { type: 'string', default: '1000' },
  'close-reason': { type: 'string', default: '' },
  'close-timeout': { type: 'string', default: '5000' },
  linger: { type: 'string' },
  'linger-quiet': { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
}

const EXIT_FAILURE = 1
const EXIT_USAGE = 2
const DEFAULT_LINGER_MS = 500
const MAX_TIMER_MS = 0x7fffffff
const MAX_REASON_BYTES = 123

/**
 * Prints the message and exits with `status` (1: the connection failed).
 * @param {string} message
 * @param {number} [status]
 * @returns {never}
 */
function fail(message, status = EXIT_FAILURE) {
  process.stderr.write(`websocketstream: ${message}\n`)
  process.exit(status)
}

/**
 * A usage error: exits 2 before connecting.
 * @param {string} message
 * @returns {never}
 */
function usageError(message) {
  fail(message, EXIT_USAGE)
}

/**
 * A flag's whole number of milliseconds.
 * @param {string | undefined} text the flag's value, undefined if not given
 * @param {string} flag
 * @param {number} min
 * @param {string} [minMeans] what `min` does, for the message
 * @returns {number | undefined}
 */
function milliseconds(text, flag, min, minMeans) {
  if (text === undefined) return undefined
  const value = /^\d+$/.test(text) ? Number(text) : Number.NaN
  if (!(value >= min && value <= MAX_TIMER_MS)) {
    const from = minMeans === undefined ? `${min}` : `${min} (${minMeans})`
    usageError(
      `--${flag} must be a whole number of milliseconds from ${from} to ${MAX_TIMER_MS}, got ${JSON.stringify(text)}`,
    )
  }
  return value
}

/**
 * `--close-code`: what close() accepts, in the command's terms.
 * @param {string} text
 * @returns {number}
 */
function closeCode(text) {
  const value = /^\d+$/.test(text) ? Number(text) : Number.NaN
  if (value !== 1000 && !(value >= 3000 && value <= 4999)) {
    usageError(`--close-code must be 1000 or a number from 3000 to 4999, got ${JSON.stringify(text)}`)
  }
  return value
}

/**
 * wscat's rule: a URL without a scheme (`localhost:8080/`) is a ws:// URL.
 * @param {string} url
 * @returns {string}
 */
function withScheme(url) {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(url) ? url : `ws://${url}`
}

function parseCommandLine() {
  let parsed
  try {
    parsed = parseArgs({ options: OPTIONS, allowPositionals: true })
  } catch (error) {
    usageError(`${/** @type {Error} */ (error).message}\n\n${USAGE}`)
  }
  const { values, positionals } = parsed
  if (values.help) {
    process.stdout.write(`${USAGE}\n`)
    process.exit(0)
  }
  const urls = values.connect === undefined ? positionals : [...positionals, values.connect]
  if (urls.length !== 1) usageError(`expected one URL (as an argument or with -c/--connect)\n\n${USAGE}`)
  const headers = values.header.map((line) => {
    const colon = line.indexOf(':')
    if (colon <= 0) usageError(`a header must look like "Name: value", got ${JSON.stringify(line)}`)
    return /** @type {[string, string]} */ ([line.slice(0, colon).trim(), line.slice(colon + 1).trim()])
  })
  /** @type {{ rejectUnauthorized: boolean, ca?: string }} */
  const tls = { rejectUnauthorized: !values.insecure }
  if (values.ca !== undefined) {
    try {
      tls.ca = fs.readFileSync(values.ca, 'utf8')
    } catch (error) {
      usageError(`cannot read --ca ${values.ca}: ${/** @type {Error} */ (error).message}`)
    }
  }
  const reason = values['close-reason']
  if (Buffer.byteLength(reason) > MAX_REASON_BYTES) {
    usageError(`--close-reason must be at most ${MAX_REASON_BYTES} bytes of UTF-8, got ${Buffer.byteLength(reason)}`)
  }
  const closeInfo = { closeCode: closeCode(values['close-code']), reason }
  try {
    // WebSocketError validates a close code and reason as close() will.
    new WebSocketError('', closeInfo)
  } catch (error) {
    usageError(/** @type {Error} */ (error).message)
  }
  const lingerQuiet = milliseconds(values['linger-quiet'], 'linger-quiet', 0)
  // --linger-quiet alone waits for quiet as long as it takes.
  const linger =
    milliseconds(values.linger, 'linger', 0) ??
    (lingerQuiet === undefined ? DEFAULT_LINGER_MS : Number.POSITIVE_INFINITY)
  return {
    url: withScheme(urls[0]),
    options: {
      protocols: values.protocol,
      headers,
      tls,
      proxy: values.proxy,
      idleTimeout: milliseconds(values['idle-timeout'], 'idle-timeout', 0, 'off'),
      closeTimeout: milliseconds(values['close-timeout'], 'close-timeout', 1),
    },
    connectTimeout: milliseconds(values['connect-timeout'], 'connect-timeout', 1),
    binary: values.binary,
    closeInfo,
    linger,
    lingerQuiet,
  }
}

/**
 * Splits text into lines (without their ending), one message each.
 * @returns {TransformStream<string, string>}
 */
function lineSplitter() {
  let pending = ''
  return new TransformStream({
    transform(chunk, controller) {
      const lines = (pending + chunk).split('\n')
      pending = /** @type {string} */ (lines.pop()) // split() returns at least one string
      for (const line of lines) controller.enqueue(line.replace(/\r$/, ''))
    },
    flush(controller) {
      if (pending !== '') controller.enqueue(pending)
    },
  })
}

/**
 * The status a shell gives a process that a signal ended.
 * @param {NodeJS.Signals} signal
 * @returns {number}
 */
function signalStatus(signal) {
  return 128 + os.constants.signals[signal]
}

async function main() {
  const { url, options, connectTimeout, binary, closeInfo, linger, lingerQuiet } = parseCommandLine()
  const signal = connectTimeout === undefined ? undefined : AbortSignal.timeout(connectTimeout)
  let wss
  try {
    wss = new WebSocketStream(url, { ...options, signal })
  } catch (error) {
    usageError(/** @type {Error} */ (error).message)
  }

  /** 'connecting', 'open', then 'closing' once our Close is on its way. */
  let state = 'connecting'
  /** The signal that stopped us, if one did. @type {NodeJS.Signals | null} */
  let stoppedBy = null
  /** @type {NodeJS.Timeout | undefined} */
  let lingerTimer

  /** Sends our Close; the server has --close-timeout (the closeTimeout option) to answer. */
  const closeNow = () => {
    if (state !== 'open') return
    state = 'closing'
    clearTimeout(lingerTimer)
    try {
      wss.close(closeInfo)
    } catch {
      // The connection closed on its own meanwhile: `closed` says how.
    }
  }

  /** @param {NodeJS.Signals} name */
  const onSignal = (name) => {
    if (state === 'closing' || stoppedBy !== null) process.exit(signalStatus(name)) // a second one: leave now
    stoppedBy = name
    if (state === 'connecting') {
      // No connection to close yet: abandon the handshake, then exit as the signal would.
      wss.close()
      return
    }
    closeNow()
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)

  let opened
  try {
    opened = await wss.opened
  } catch (error) {
    if (stoppedBy !== null) process.exit(signalStatus(stoppedBy))
    if (signal?.aborted) fail(`${url} did not open within ${connectTimeout} ms (--connect-timeout)`)
    fail(/** @type {Error} */ (error).message)
  }
  state = 'open'
  const { readable, writable } = opened
  let lastMessageAt = Date.now()
  const stdout = Writable.toWeb(process.stdout)
  const printing = readable
    .pipeThrough(
      new TransformStream({
        transform(message, controller) {
          lastMessageAt = Date.now()
          controller.enqueue(typeof message === 'string' ? `${message}\n` : message)
        },
      }),
    )
    .pipeTo(stdout, { preventClose: true })
    .catch(() => {})

  // After our Close the draft drops incoming messages, so echoes of the last
  // messages sent get until --linger (or until --linger-quiet of quiet) to
  // arrive; whatever keeps arriving after that does not keep us open.
  const lingerThenClose = () => {
    const stdinEndedAt = Date.now()
    const wait = () => {
      const now = Date.now()
      const left = Math.min(
        stdinEndedAt + linger - now,
        lingerQuiet === undefined ? Number.POSITIVE_INFINITY : lastMessageAt + lingerQuiet - now,
      )
      if (left <= 0) closeNow()
      else lingerTimer = setTimeout(wait, left)
    }
    wait()
  }

  const stdin = Readable.toWeb(process.stdin)
  const messages = binary ? stdin : stdin.pipeThrough(new TextDecoderStream()).pipeThrough(lineSplitter())
  messages
    .pipeTo(writable, { preventClose: true })
    .then(() => {
      if (state === 'open') lingerThenClose()
    })
    .catch(() => {})

  /** Ends what would keep the process running once the connection is closed. */
  const finish = () => {
    state = 'closed'
    clearTimeout(lingerTimer)
    process.stdin.destroy()
  }
  let closed
  try {
    closed = await wss.closed
  } catch (error) {
    finish()
    fail(/** @type {Error} */ (error).message)
  }
  finish()
  await printing
  const { closeCode, reason } = closed
  if (closeCode !== 1000 && closeCode !== 1005 && closeCode !== closeInfo.closeCode) {
    process.stderr.write(
      `websocketstream: the connection closed with code ${closeCode}${reason === '' ? '' : `: ${reason}`}\n`,
    )
    process.exitCode = EXIT_FAILURE
  }
}

main()
