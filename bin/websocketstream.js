#!/usr/bin/env node
// @ts-check
'use strict'
// `websocketstream <url>`: stdin lines become text messages (or, with
// --binary, stdin chunks become binary messages), received messages go to
// stdout, with backpressure end to end: a slow stdout slows the server down,
// a slow server slows the reading of stdin.

const fs = require('node:fs')
const { parseArgs } = require('node:util')
const { Readable, Writable } = require('node:stream')
const { TransformStream } = require('node:stream/web')
const { WebSocketError, WebSocketStream } = require('../index.js')

const USAGE = `Usage: websocketstream <url> [options]

Connects to a WebSocket server, sends each line of stdin as a text message
and prints each message received (text followed by a newline, binary as raw
bytes). Exits 0 after a clean close, 1 with the reason on stderr otherwise.

Options:
  -p, --protocol <name>     offer a subprotocol (repeatable)
  -H, --header <name:value> add a request header (repeatable)
      --ca <file>           trust the CA certificates in this PEM file
  -k, --insecure            do not verify the server's certificate
      --proxy <url>         connect through this HTTP CONNECT proxy
      --idle-timeout <ms>   fail the connection when the server sends nothing,
                            not even a pong, for twice this long (off by default)
  -b, --binary              send stdin as binary messages, chunk by chunk
      --close-code <code>   close code to send when stdin ends (default 1000)
      --close-reason <text> close reason to send when stdin ends
      --linger <ms>         after stdin ends, wait until nothing arrived for
                            this long before closing (default 500)
  -h, --help                show this help`

/** @satisfies {NonNullable<import('node:util').ParseArgsConfig['options']>} */
const OPTIONS = {
  protocol: { type: 'string', short: 'p', multiple: true, default: [] },
  header: { type: 'string', short: 'H', multiple: true, default: [] },
  ca: { type: 'string' },
  insecure: { type: 'boolean', short: 'k', default: false },
  proxy: { type: 'string' },
  'idle-timeout': { type: 'string' },
  binary: { type: 'boolean', short: 'b', default: false },
  'close-code': { type: 'string', default: '1000' },
  'close-reason': { type: 'string', default: '' },
  linger: { type: 'string', default: '500' },
  help: { type: 'boolean', short: 'h', default: false },
}

/**
 * Prints the message and exits with 1.
 * @param {string} message
 * @returns {never}
 */
function fail(message) {
  process.stderr.write(`websocketstream: ${message}\n`)
  process.exit(1)
}

function parseCommandLine() {
  let parsed
  try {
    parsed = parseArgs({ options: OPTIONS, allowPositionals: true })
  } catch (error) {
    fail(`${/** @type {Error} */ (error).message}\n\n${USAGE}`)
  }
  const { values, positionals } = parsed
  if (values.help) {
    process.stdout.write(`${USAGE}\n`)
    process.exit(0)
  }
  if (positionals.length !== 1) fail(`expected one URL\n\n${USAGE}`)
  const headers = values.header.map((line) => {
    const colon = line.indexOf(':')
    if (colon <= 0) fail(`a header must look like "Name: value", got ${JSON.stringify(line)}`)
    return /** @type {[string, string]} */ ([line.slice(0, colon).trim(), line.slice(colon + 1).trim()])
  })
  /** @type {{ rejectUnauthorized: boolean, ca?: string }} */
  const tls = { rejectUnauthorized: !values.insecure }
  if (values.ca !== undefined) {
    try {
      tls.ca = fs.readFileSync(values.ca, 'utf8')
    } catch (error) {
      fail(`cannot read --ca ${values.ca}: ${/** @type {Error} */ (error).message}`)
    }
  }
  const linger = Number(values.linger)
  if (!Number.isFinite(linger) || linger < 0) fail('--linger must be a number of milliseconds')
  const idleTimeout = values['idle-timeout'] === undefined ? undefined : Number(values['idle-timeout'])
  return {
    url: positionals[0],
    options: { protocols: values.protocol, headers, tls, proxy: values.proxy, idleTimeout },
    binary: values.binary,
    closeInfo: { closeCode: Number(values['close-code']), reason: values['close-reason'] },
    linger,
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

async function main() {
  const { url, options, binary, closeInfo, linger } = parseCommandLine()
  let wss
  try {
    // WebSocketError validates a close code and reason as close() will.
    new WebSocketError('', closeInfo)
    wss = new WebSocketStream(url, options)
  } catch (error) {
    fail(/** @type {Error} */ (error).message)
  }
  let opened
  try {
    opened = await wss.opened
  } catch (error) {
    fail(/** @type {Error} */ (error).message)
  }
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

  const stdin = Readable.toWeb(process.stdin)
  const messages = binary ? stdin : stdin.pipeThrough(new TextDecoderStream()).pipeThrough(lineSplitter())
  messages
    .pipeTo(writable, { preventClose: true })
    .then(async () => {
      // Echoes of the last messages may still be on their way: after close()
      // the draft drops incoming messages, so wait until the line is quiet.
      while (Date.now() - lastMessageAt < linger) {
        await new Promise((resolve) => setTimeout(resolve, linger - (Date.now() - lastMessageAt)))
      }
      wss.close(closeInfo)
    })
    .catch(() => {})

  try {
    const { closeCode, reason } = await wss.closed
    await printing
    process.stdin.destroy()
    if (closeCode !== 1000 && closeCode !== 1005 && closeCode !== closeInfo.closeCode) {
      process.stderr.write(`websocketstream: closed with ${closeCode} ${reason}\n`)
    }
  } catch (error) {
    process.stdin.destroy()
    fail(/** @type {Error} */ (error).message)
  }
}

main()
