// @ts-check
'use strict'
// WebSocketError: the DOMException subclass that carries a close code and reason.

const { inspect } = require('node:util')
const { toCloseInfo, toDOMString, validateCloseCodeAndReason } = require('./webidl')

/** @type {(error: WebSocketError, closeCode: number | null, reason: string) => void} */
let setCloseInfo
/** @type {(value: unknown) => value is WebSocketError} */
let isWebSocketError

class WebSocketError extends DOMException {
  /** @type {number | null} */
  #closeCode
  /** @type {string} */
  #reason

  /**
   * @param {unknown} [message]
   * @param {unknown} [init] a WebSocketCloseInfo: `{ closeCode, reason }`
   */
  constructor(message = '', init = undefined) {
    const text = toDOMString(message)
    const { closeCode, reason } = toCloseInfo(init, 'WebSocketError init')
    validateCloseCodeAndReason(closeCode, reason)
    super(text, 'WebSocketError')
    this.#closeCode = closeCode === null && reason !== '' ? 1000 : closeCode
    this.#reason = reason
  }

  get closeCode() {
    return this.#closeCode
  }

  get reason() {
    return this.#reason
  }

  static {
    // Brand check: only objects made by this constructor, never look-alikes.
    isWebSocketError = (value) => value !== null && typeof value === 'object' && #closeCode in value
    setCloseInfo = (error, closeCode, reason) => {
      error.#closeCode = closeCode
      error.#reason = reason
    }
  }
}

Object.defineProperty(WebSocketError.prototype, Symbol.toStringTag, {
  value: 'WebSocketError',
  configurable: true,
})

// util.inspect and console.log show the close code and the reason with the
// stack and the cause (a DOMException's own inspection shows neither).
Object.defineProperty(WebSocketError.prototype, inspect.custom, {
  /**
   * @this {unknown}
   * @param {number} depth
   * @param {import('node:util').InspectOptionsStylized} options
   * @param {typeof inspect} inspectValue
   */
  value(depth, options, inspectValue) {
    const text = inspectValue(this, { ...options, customInspect: false })
    if (!isWebSocketError(this)) return text
    const members = `closeCode: ${inspectValue(this.closeCode, options)}, reason: ${inspectValue(this.reason, options)}`
    // Node puts own properties (the cause) in a block after the stack: ours go first in it.
    const block = text.indexOf(' {\n')
    if (block === -1) return `${text} { ${members} }`
    return `${text.slice(0, block + 3)}  ${members},\n${text.slice(block + 3)}`
  },
  configurable: true,
  writable: true,
})

/**
 * An error the package itself reports (an unclean close): it may carry codes an
 * application may not send, such as 1006, so it skips validation.
 * @param {string} message
 * @param {number | null} closeCode
 * @param {string} [reason]
 * @param {unknown} [cause] the error behind it, installed as Error's `{ cause }` option would
 * @returns {WebSocketError}
 */
function createWebSocketError(message, closeCode, reason = '', cause = undefined) {
  const error = new WebSocketError(message)
  setCloseInfo(error, closeCode, reason)
  if (cause !== undefined) {
    Object.defineProperty(error, 'cause', { value: cause, writable: true, configurable: true })
  }
  return error
}

/**
 * What went wrong underneath, as the WebSocketError's `cause`: an Error with
 * a stable `code` (Node's, such as ECONNREFUSED, or ours, prefixed
 * ERR_WEBSOCKETSTREAM_) and the details that code documents.
 * @param {import('../binding').FailureInfo} failure
 * @returns {Error & Record<string, unknown>}
 */
function failureCause({ code, message, statusCode, headers, sentCloseCode, certificateError }) {
  /** @type {Error & Record<string, unknown>} */
  const cause = ownFailureCause(code, message)
  if (statusCode != null) {
    cause.statusCode = statusCode
    cause.headers = headerRecord(headers ?? [])
  }
  if (sentCloseCode != null) cause.sentCloseCode = sentCloseCode
  if (certificateError != null) cause.certificateError = certificateError
  return cause
}

/**
 * Header fields as Node's `message.headers` has them: lower-case names,
 * repeated fields joined with ', '.
 * @param {string[]} flat `[name, value, name, value, …]`
 * @returns {Record<string, string>}
 */
function headerRecord(flat) {
  /** @type {Record<string, string>} */
  const record = {}
  for (let index = 0; index < flat.length; index += 2) {
    const name = flat[index].toLowerCase()
    record[name] = name in record ? `${record[name]}, ${flat[index + 1]}` : flat[index + 1]
  }
  return record
}

/**
 * An Error with a `code`, as Node's own errors have.
 * @param {string} code
 * @param {string} message
 * @returns {Error & Record<string, unknown>}
 */
function ownFailureCause(code, message) {
  /** @type {Error & Record<string, unknown>} */
  const cause = /** @type {any} */ (new Error(message))
  cause.code = code
  return cause
}

module.exports = { WebSocketError, createWebSocketError, failureCause, isWebSocketError, ownFailureCause }
