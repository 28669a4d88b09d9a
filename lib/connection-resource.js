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

/**
 * @template {{ keepsProcessAlive(): boolean }} Session whether the connection is connecting, open or closing
 */
class ConnectionResource extends AsyncResource {
  /**
   * @param {string} url
   * @param {WeakRef<Session>} session the connection, held weakly: a tool
   *   may hold this resource for good, and must not keep a dropped stream
   *   and its socket open by it
   */
  constructor(url, session) {
    super('WebSocketStream', { requireManualDestroy: true })
    this.url = url
    this.session = session
  }

  /** As Node's own handles answer it: does this resource keep the process alive? (A collected connection does not.) */
  hasRef() {
    return this.session.deref()?.keepsProcessAlive() ?? false
  }
}

module.exports = { ConnectionResource }
