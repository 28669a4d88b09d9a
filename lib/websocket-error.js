// @ts-check
'use strict'
// WebSocketError: the DOMException subclass that carries a close code and reason.

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

module.exports = { WebSocketError, createWebSocketError, isWebSocketError }
