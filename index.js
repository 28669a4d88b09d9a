// @ts-check
'use strict'
// The public API: WebSocketStream and WebSocketError, as the WHATWG draft
// specifies them. Argument conversion and URL rules live here; the connection
// itself in lib/session.js.

const net = require('node:net')
const { Session } = require('./lib/session')
const { WebSocketError } = require('./lib/websocket-error')
const { proxyFromEnvironment, readNodeOptions } = require('./lib/node-options')
const { wantsControlFrames } = require('./lib/diagnostics')
const { warnAboutOptions } = require('./lib/option-warnings')
const {
  describe,
  isAbortSignal,
  toCloseInfo,
  toDictionary,
  toUSVString,
  toUSVStringSequence,
  validateCloseCodeAndReason,
  validateProtocols,
} = require('./lib/webidl')

/**
 * The draft's "get a URL record": parse, map http(s) to ws(s), refuse the rest.
 * @param {string} input
 * @returns {URL}
 */
function parseWebSocketURL(input) {
  let url
  try {
    url = new URL(input)
  } catch {
    throw new DOMException(
      `Invalid URL ${JSON.stringify(input)} (Node has no base URL, so it must be absolute)`,
      'SyntaxError',
    )
  }
  if (url.protocol === 'http:') url.protocol = 'ws:'
  else if (url.protocol === 'https:') url.protocol = 'wss:'
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') {
    throw new DOMException(
      `The URL's scheme must be ws, wss, http or https, got ${JSON.stringify(url.protocol.slice(0, -1))}`,
      'SyntaxError',
    )
  }
  // A '#' survives serialization only as the fragment delimiter, even for an
  // empty fragment, which the draft refuses too.
  if (url.href.includes('#')) {
    throw new DOMException('A WebSocket URL cannot have a fragment', 'SyntaxError')
  }
  return url
}

/**
 * What the native side needs to connect to `url`.
 * @param {URL} url a ws: or wss: URL
 * @param {string[]} protocols
 * @param {import('./lib/node-options').NodeOptions} nodeOptions
 * @returns {import('./lib/session').ConnectTarget}
 */
function connectTarget(url, protocols, nodeOptions) {
  const secure = url.protocol === 'wss:'
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1')
  const port = url.port === '' ? (secure ? 443 : 80) : Number(url.port)
  return {
    host,
    port,
    // Happy Eyeballs waits as long as Node's own sockets do.
    attemptDelayMs: net.getDefaultAutoSelectFamilyAttemptTimeout(),
    hostHeader: url.host,
    resource: `${url.pathname}${url.search}`,
    protocols,
    headers: nodeOptions.headers,
    maxMessageSize: nodeOptions.maxMessageSize,
    deflate: nodeOptions.deflate,
    idleTimeoutMs: nodeOptions.idleTimeoutMs,
    closeTimeoutMs: nodeOptions.closeTimeoutMs,
    reportControlFrames: wantsControlFrames(),
    tls: secure ? (nodeOptions.tls ?? { rejectUnauthorized: true }) : undefined,
    proxy: nodeOptions.proxy ?? proxyFromEnvironment(secure, host, port),
  }
}

class WebSocketStream {
  /** @type {string} */
  #url
  /** @type {Session} */
  #session

  /**
   * @param {unknown} url
   * @param {unknown} [options] a WebSocketStreamOptions dictionary
   */
  constructor(url, options = undefined) {
    // biome-ignore lint/complexity/noArguments: WebIDL tells a missing argument from an explicit undefined
    if (arguments.length === 0) {
      throw new TypeError("Failed to construct 'WebSocketStream': the url argument is required")
    }
    const urlString = toUSVString(url)
    const dictionary = toDictionary(options, 'WebSocketStream options')
    warnAboutOptions(dictionary)
    const nodeOptions = readNodeOptions(dictionary)
    const rawProtocols = dictionary.protocols
    const protocols =
      rawProtocols === undefined ? [] : toUSVStringSequence(rawProtocols, 'WebSocketStream options.protocols')
    const signal = dictionary.signal
    if (signal !== undefined && !isAbortSignal(signal)) {
      throw new TypeError(`WebSocketStream options.signal must be an AbortSignal, got ${describe(signal)}`)
    }
    const record = parseWebSocketURL(urlString)
    validateProtocols(protocols)
    this.#url = record.href
    this.#session = new Session(
      record.href,
      connectTarget(record, protocols, nodeOptions),
      signal ?? null,
      nodeOptions.lookup,
    )
  }

  get url() {
    return this.#url
  }

  get opened() {
    return this.#session.opened.promise
  }

  get closed() {
    return this.#session.closed.promise
  }

  /** @param {unknown} [closeInfo] a WebSocketCloseInfo: `{ closeCode, reason }` */
  close(closeInfo = undefined) {
    const { closeCode, reason } = toCloseInfo(closeInfo, 'WebSocketStream close info')
    validateCloseCodeAndReason(closeCode, reason)
    this.#session.closeWebSocket(closeCode, reason)
  }
}

// WebIDL makes attributes and operations enumerable, and gives the interface
// its own toStringTag.
for (const name of ['url', 'opened', 'closed', 'close']) {
  Object.defineProperty(WebSocketStream.prototype, name, { enumerable: true })
}
for (const name of ['closeCode', 'reason']) {
  Object.defineProperty(WebSocketError.prototype, name, { enumerable: true })
}
Object.defineProperty(WebSocketStream.prototype, Symbol.toStringTag, {
  value: 'WebSocketStream',
  configurable: true,
})

module.exports = { WebSocketStream, WebSocketError }
