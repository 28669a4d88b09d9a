// @ts-check
'use strict'
// WebIDL argument conversion and the draft's validation rules, shared by
// WebSocketStream and WebSocketError. Conversions throw TypeError, the draft's
// checks throw DOMExceptions, each with a message naming the offending value.

/**
 * ToString, as WebIDL DOMString conversion does (Symbols throw TypeError).
 * @param {unknown} value
 * @returns {string}
 */
function toDOMString(value) {
  return `${value}`
}

/**
 * DOMString, then lone surrogates replaced by U+FFFD.
 * @param {unknown} value
 * @returns {string}
 */
function toUSVString(value) {
  return toDOMString(value).toWellFormed()
}

/**
 * `[EnforceRange] unsigned short`.
 * @param {any} value any JavaScript value (converted with ToNumber)
 * @param {string} context names the value in error messages
 * @returns {number}
 */
function toEnforcedUnsignedShort(value, context) {
  const number = +value
  if (!Number.isFinite(number)) {
    throw new TypeError(`${context} must be a finite number, got ${describe(value)}`)
  }
  const integer = Math.trunc(number) + 0
  if (integer < 0 || integer > 65535) {
    throw new TypeError(`${context} must be between 0 and 65535, got ${integer}`)
  }
  return integer
}

/**
 * A value as error messages show it.
 * @param {unknown} value
 * @returns {string}
 */
function describe(value) {
  if (typeof value === 'string') return JSON.stringify(value)
  if (typeof value === 'symbol' || typeof value === 'bigint') return value.toString()
  if (value === null || typeof value !== 'object') return String(value)
  return Object.prototype.toString.call(value)
}

/**
 * A dictionary argument: undefined and null become {}, other non-objects throw.
 * @param {unknown} value
 * @param {string} context names the value in error messages
 * @returns {Record<PropertyKey, any>} the object itself (members are read from it later, in order)
 */
function toDictionary(value, context) {
  if (value === undefined || value === null) return {}
  if (typeof value !== 'object' && typeof value !== 'function') {
    throw new TypeError(`${context} must be an object, got ${describe(value)}`)
  }
  return value
}

/**
 * `sequence<USVString>`: any iterable object, never a bare string.
 * @param {any} value any JavaScript value (its iterator is looked up)
 * @param {string} context names the value in error messages
 * @returns {string[]}
 */
function toUSVStringSequence(value, context) {
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) {
    throw new TypeError(`${context} must be an iterable of strings, got ${describe(value)}`)
  }
  const iteratorMethod = value[Symbol.iterator]
  if (typeof iteratorMethod !== 'function') {
    throw new TypeError(`${context} must be an iterable of strings, got ${describe(value)}`)
  }
  const strings = []
  for (const item of { [Symbol.iterator]: () => iteratorMethod.call(value) }) {
    strings.push(toUSVString(item))
  }
  return strings
}

let warnedAboutCodeMember = false

/**
 * The WebSocketCloseInfo dictionary: `{closeCode, reason}` with members read in
 * WebIDL order. MDN's older `{code}` member is not part of it; the first time
 * one is seen, a process warning says what to use instead.
 * @param {unknown} value
 * @param {string} context names the value in error messages
 * @returns {{ closeCode: number | null, reason: string }}
 */
function toCloseInfo(value, context) {
  const dictionary = toDictionary(value, context)
  const rawCloseCode = dictionary.closeCode
  const closeCode = rawCloseCode === undefined ? null : toEnforcedUnsignedShort(rawCloseCode, `${context}.closeCode`)
  const rawReason = dictionary.reason
  const reason = rawReason === undefined ? '' : toUSVString(rawReason)
  if (!warnedAboutCodeMember && rawCloseCode === undefined && dictionary.code !== undefined) {
    warnedAboutCodeMember = true
    process.emitWarning(
      "The 'code' member of a WebSocket close info ({ code, reason }) is ignored: the draft " +
        "renamed it to 'closeCode' (write close({ closeCode, reason }))",
      { type: 'WebSocketStreamWarning', code: 'WEBSOCKETSTREAM_CLOSE_CODE_MEMBER' },
    )
  }
  return { closeCode, reason }
}

const encoder = new TextEncoder()

/**
 * The draft's "validate close code and reason".
 * @param {number | null} closeCode
 * @param {string} reason
 */
function validateCloseCodeAndReason(closeCode, reason) {
  if (closeCode !== null && closeCode !== 1000 && !(closeCode >= 3000 && closeCode <= 4999)) {
    throw new DOMException(
      `The close code must be 1000 or between 3000 and 4999, got ${closeCode}`,
      'InvalidAccessError',
    )
  }
  const reasonBytes = encoder.encode(reason).byteLength
  if (reasonBytes > 123) {
    throw new DOMException(`The close reason must be at most 123 bytes of UTF-8, got ${reasonBytes}`, 'SyntaxError')
  }
}

// RFC 2616 token: visible ASCII except separators.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

/**
 * Subprotocol names must be tokens, and unique ignoring ASCII case.
 * @param {string[]} protocols
 */
function validateProtocols(protocols) {
  const seen = new Set()
  for (const protocol of protocols) {
    if (!TOKEN.test(protocol)) {
      throw new DOMException(`The subprotocol ${JSON.stringify(protocol)} is not a valid token`, 'SyntaxError')
    }
    const folded = protocol.toLowerCase()
    if (seen.has(folded)) {
      throw new DOMException(`The subprotocol ${JSON.stringify(protocol)} is listed more than once`, 'SyntaxError')
    }
    seen.add(folded)
  }
}

const abortedGetter = /** @type {() => boolean} */ (
  /** @type {PropertyDescriptor} */ (Object.getOwnPropertyDescriptor(AbortSignal.prototype, 'aborted')).get
)

/**
 * A real AbortSignal (brand check, not duck typing).
 * @param {unknown} value
 * @returns {value is AbortSignal}
 */
function isAbortSignal(value) {
  if (value === null || typeof value !== 'object') return false
  try {
    abortedGetter.call(value)
    return true
  } catch {
    return false
  }
}

module.exports = {
  describe,
  isAbortSignal,
  toCloseInfo,
  toDictionary,
  toDOMString,
  toUSVString,
  toUSVStringSequence,
  validateCloseCodeAndReason,
  validateProtocols,
}
