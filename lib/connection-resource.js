// @ts-check
'use strict'
// What async_hooks-based tools (why-is-node-running, test runners that list
// open handles) see of a connection: an async resource of type
// 'WebSocketStream' with its URL, created by the constructor (so its stack
// points at the caller) and destroyed when the connection has closed. The
// native side's threadsafe function is what really keeps the event loop
// alive; napi names that one 'napi_rs_threadsafe_function', which says
// nothing. process.getActiveResourcesInfo() lists only Node's own handles,
// so no addon can appear there.

const { AsyncResource } = require('node:async_hooks')

class ConnectionResource extends AsyncResource {
  /**
   * @param {string} url
   * @param {() => boolean} keepsProcessAlive whether the connection is connecting, open or closing
   */
  constructor(url, keepsProcessAlive) {
    super('WebSocketStream', { requireManualDestroy: true })
    this.url = url
    this.keepsProcessAlive = keepsProcessAlive
  }

  /** As Node's own handles answer it: does this resource keep the process alive? */
  hasRef() {
    return this.keepsProcessAlive()
  }
}

module.exports = { ConnectionResource }
