// @ts-check
'use strict'
// The options a Node service needs beyond the draft's `protocols` and
// `signal`: `headers`, `tls`, `maxMessageSize`, `perMessageDeflate`,
// `idleTimeout`, `closeTimeout`, `lookup` and an HTTP CONNECT `proxy` (or,
// with NODE_USE_ENV_PROXY=1, the proxy environment variables). Every invalid
// value is a TypeError naming the option.

const native = require('./native')
const { describe, toDictionary } = require('./webidl')

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
// Headers the opening handshake writes itself.
const RESERVED_HEADERS = new Set(['host', 'upgrade', 'connection'])

/**
 * @param {string} option the option's name after `options.`
 * @param {string} expected what it must be
 * @param {unknown} value what it was
 * @returns {TypeError}
 */
function optionError(option, expected, value) {
  return new TypeError(`WebSocketStream options.${option} must be ${expected}, got ${describe(value)}`)
}

/**
 * `headers`: a plain object, an iterable of [name, value] pairs, or a Headers.
 * @param {any} value
 * @returns {string[]} `[name, value, name, value, …]`
 */
function toHeaderList(value) {
  if (value === null || typeof value !== 'object') {
    throw optionError('headers', 'an object, an array of [name, value] pairs or a Headers', value)
  }
  /** @type {[unknown, unknown][]} */
  const pairs = []
  if (typeof value[Symbol.iterator] === 'function') {
    for (const pair of value) {
      if (pair === null || typeof pair !== 'object' || pair.length !== 2) {
        throw optionError('headers', 'made of [name, value] pairs', pair)
      }
      pairs.push([pair[0], pair[1]])
    }
  } else {
    for (const [name, fieldValue] of Object.entries(value)) {
      for (const item of Array.isArray(fieldValue) ? fieldValue : [fieldValue]) {
        pairs.push([name, item])
      }
    }
  }
  /** @type {string[]} */
  const flat = []
  for (const [rawName, rawValue] of pairs) {
    const name = `${rawName}`
    const fieldValue = `${rawValue}`.trim()
    if (!TOKEN.test(name)) throw optionError('headers', 'valid header names', name)
    const lower = name.toLowerCase()
    if (RESERVED_HEADERS.has(lower) || lower.startsWith('sec-websocket-')) {
      throw new TypeError(`WebSocketStream options.headers cannot set ${name}: the WebSocket handshake owns it`)
    }
    if (/[\r\n\0]/.test(fieldValue)) {
      throw optionError(`headers[${JSON.stringify(name)}]`, 'a value without CR, LF or NUL', fieldValue)
    }
    flat.push(name, fieldValue)
  }
  return flat
}

/**
 * @param {unknown} value
 * @param {string} option the option's name, for the error message
 * @returns {string}
 */
function toPem(value, option) {
  if (typeof value === 'string') return value
  if (ArrayBuffer.isView(value)) {
    return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('utf8')
  }
  throw optionError(option, 'a PEM string or Buffer', value)
}

/**
 * `tls`: { ca, cert, key, rejectUnauthorized, servername }.
 * @param {unknown} value
 * @returns {import('../binding.js').TlsOptions}
 */
function toTlsOptions(value) {
  const tls = toDictionary(value, 'WebSocketStream options.tls')
  const { ca, cert, key, rejectUnauthorized, servername } = tls
  if (rejectUnauthorized !== undefined && typeof rejectUnauthorized !== 'boolean') {
    throw optionError('tls.rejectUnauthorized', 'a boolean', rejectUnauthorized)
  }
  if (servername !== undefined && typeof servername !== 'string') {
    throw optionError('tls.servername', 'a string', servername)
  }
  if ((cert === undefined) !== (key === undefined)) {
    throw new TypeError('WebSocketStream options.tls.cert and tls.key must be given together')
  }
  const options = {
    ca: ca === undefined ? undefined : (Array.isArray(ca) ? ca : [ca]).map((item) => toPem(item, 'tls.ca')),
    cert: cert === undefined ? undefined : toPem(cert, 'tls.cert'),
    key: key === undefined ? undefined : toPem(key, 'tls.key'),
    rejectUnauthorized: rejectUnauthorized ?? true,
    servername,
  }
  // PEM that does not parse, or a key that does not fit its certificate, is
  // the caller's mistake: said now rather than when connecting.
  const problem = native.tlsOptionsError(options)
  if (problem !== null) throw new TypeError(`WebSocketStream options.${problem}`)
  return options
}

/**
 * @param {any} value
 * @returns {number}
 */
function toMaxMessageSize(value) {
  if (!Number.isInteger(value) || value < 1 || value > 0xffffffff) {
    throw optionError('maxMessageSize', 'a whole number of bytes from 1 to 4294967295', value)
  }
  return value
}

/**
 * `idleTimeout` and `closeTimeout`: a whole number of milliseconds a timer can take.
 * @param {unknown} value
 * @param {string} option the option's name
 * @param {string} zeroMeans what 0 does
 * @returns {number}
 */
function toMilliseconds(value, option, zeroMeans) {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 0x7fffffff) {
    throw optionError(option, `a whole number of milliseconds from 0 (${zeroMeans}) to 2147483647`, value)
  }
  return value
}

/**
 * `lookup`: a function with net.connect's `lookup` signature.
 * @param {unknown} value
 * @returns {import('./address-lookup').LookupFunction}
 */
function toLookup(value) {
  if (typeof value !== 'function') {
    throw optionError('lookup', "a function like dns.lookup (net.connect's lookup option)", value)
  }
  return /** @type {import('./address-lookup').LookupFunction} */ (value)
}

/** What `perMessageDeflate: true` (the default) means. */
const DEFAULT_DEFLATE = Object.freeze({ threshold: 1024, level: 6 })

/**
 * `perMessageDeflate`: true (the default), false, or `{ threshold, level }`.
 * @param {unknown} value
 * @returns {import('../binding.js').DeflateOptions | undefined} undefined: no offer
 */
function toDeflateOptions(value) {
  if (value === undefined || value === true) return DEFAULT_DEFLATE
  if (value === false) return undefined
  if (value === null || typeof value !== 'object') {
    throw optionError('perMessageDeflate', 'true, false or an object { threshold, level }', value)
  }
  const { threshold = DEFAULT_DEFLATE.threshold, level = DEFAULT_DEFLATE.level } = /** @type {any} */ (value)
  if (!Number.isInteger(threshold) || threshold < 0 || threshold > 0xffffffff) {
    throw optionError('perMessageDeflate.threshold', 'a whole number of bytes from 0 to 4294967295', threshold)
  }
  if (!Number.isInteger(level) || level < 0 || level > 9) {
    throw optionError('perMessageDeflate.level', 'a whole number from 0 to 9', level)
  }
  return { threshold, level }
}

/**
 * An `http://[user:pass@]host:port` proxy URL as the native side needs it.
 * @param {unknown} value
 * @param {string} option the option's name, for the error message
 * @returns {import('../binding.js').ProxyOptions}
 */
function toProxyOptions(value, option) {
  let url
  try {
    url = new URL(`${value}`)
  } catch {
    throw optionError(option, 'an http:// proxy URL', value)
  }
  if (url.protocol !== 'http:') throw optionError(option, 'an http:// proxy URL', value)
  /** @type {import('../binding.js').ProxyOptions} */
  const proxy = {
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: url.port === '' ? 80 : Number(url.port),
    authorization: undefined,
  }
  if (url.username !== '' || url.password !== '') {
    const credentials = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`
    proxy.authorization = `Basic ${Buffer.from(credentials).toString('base64')}`
  }
  return proxy
}

/**
 * NO_PROXY: `*`, or host names (matching subdomains too) and IPs, each with an optional port.
 * @param {string} noProxy the NO_PROXY list
 * @param {string} host lower case
 * @param {number} port
 * @returns {boolean}
 */
function bypassesProxy(noProxy, host, port) {
  return noProxy
    .split(/[\s,]+/)
    .filter(Boolean)
    .some((entry) => {
      if (entry === '*') return true
      const unbracketed = entry.replace(/^\[(.*)\](:\d+)?$/, '$1$2')
      // This pattern matches every string.
      const [, pattern, entryPort] = /** @type {RegExpExecArray} */ (/^(.*?)(?::(\d+))?$/.exec(unbracketed))
      if (entryPort !== undefined && Number(entryPort) !== port) return false
      const domain = pattern.replace(/^\*?\./, '').toLowerCase()
      return host === domain || host.endsWith(`.${domain}`)
    })
}

/**
 * The proxy from the environment, as Node 24 does for http and fetch with NODE_USE_ENV_PROXY=1.
 * @param {boolean} secure wss:
 * @param {string} host
 * @param {number} port
 * @returns {import('../binding.js').ProxyOptions | undefined}
 */
function proxyFromEnvironment(secure, host, port) {
  const env = process.env
  if (env.NODE_USE_ENV_PROXY !== '1' && env.NODE_USE_ENV_PROXY !== 'true') return undefined
  const name = secure ? 'HTTPS_PROXY' : 'HTTP_PROXY'
  const proxyUrl = env[name] ?? env[name.toLowerCase()]
  if (!proxyUrl) return undefined
  const noProxy = env.NO_PROXY ?? env.no_proxy ?? ''
  if (bypassesProxy(noProxy, host.toLowerCase(), port)) return undefined
  return toProxyOptions(proxyUrl, `proxy (from ${name})`)
}

/**
 * The Node options as the native side takes them.
 * @typedef {object} NodeOptions
 * @property {number | undefined} closeTimeoutMs undefined: 5000
 * @property {string[]} headers `[name, value, name, value, …]`
 * @property {number | undefined} maxMessageSize
 * @property {import('../binding.js').DeflateOptions | undefined} deflate undefined: no offer
 * @property {number | undefined} idleTimeoutMs undefined or 0: off
 * @property {import('./address-lookup').LookupFunction | undefined} lookup undefined: dns.lookup
 * @property {import('../binding.js').ProxyOptions | undefined} proxy
 * @property {import('../binding.js').TlsOptions | undefined} tls
 */

/**
 * Reads the Node options from the options dictionary, in WebIDL member order
 * around the draft's own members (which the caller reads).
 * @param {Record<PropertyKey, any>} dictionary the options object
 * @returns {NodeOptions}
 */
function readNodeOptions(dictionary) {
  const rawCloseTimeout = dictionary.closeTimeout
  const rawHeaders = dictionary.headers
  const rawIdleTimeout = dictionary.idleTimeout
  const rawLookup = dictionary.lookup
  const rawMaxMessageSize = dictionary.maxMessageSize
  const rawPerMessageDeflate = dictionary.perMessageDeflate
  const rawProxy = dictionary.proxy
  const rawTls = dictionary.tls
  return {
    closeTimeoutMs:
      rawCloseTimeout === undefined
        ? undefined
        : toMilliseconds(rawCloseTimeout, 'closeTimeout', 'drop TCP once our Close is sent'),
    headers: rawHeaders === undefined ? [] : toHeaderList(rawHeaders),
    idleTimeoutMs: rawIdleTimeout === undefined ? undefined : toMilliseconds(rawIdleTimeout, 'idleTimeout', 'off'),
    lookup: rawLookup === undefined ? undefined : toLookup(rawLookup),
    maxMessageSize: rawMaxMessageSize === undefined ? undefined : toMaxMessageSize(rawMaxMessageSize),
    deflate: toDeflateOptions(rawPerMessageDeflate),
    proxy: rawProxy === undefined ? undefined : toProxyOptions(rawProxy, 'proxy'),
    tls: rawTls === undefined ? undefined : toTlsOptions(rawTls),
  }
}

module.exports = { bypassesProxy, proxyFromEnvironment, readNodeOptions }
