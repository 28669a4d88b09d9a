// @ts-check
'use strict'
// diagnostics_channel events, for tracing and metrics. Each is published only
// when its channel has subscribers: without one, no message is built.

const diagnosticsChannel = require('node:diagnostics_channel')

const channels = {
  open: diagnosticsChannel.channel('websocketstream:open'),
  close: diagnosticsChannel.channel('websocketstream:close'),
  error: diagnosticsChannel.channel('websocketstream:error'),
}

/**
 * The connection opened.
 * @param {string} url
 * @param {import('../binding.js').OpenedInfo} opened
 * @param {number} startedAt `performance.now()` when the constructor began connecting
 */
function publishOpen(url, opened, startedAt) {
  if (!channels.open.hasSubscribers) return
  channels.open.publish({
    url,
    protocol: opened.protocol,
    extensions: opened.extensions,
    remoteAddress: opened.remoteAddress,
    remotePort: opened.remotePort,
    handshakeDurationMs: performance.now() - startedAt,
  })
}

/**
 * A connection that had opened is closed.
 * @param {string} url
 * @param {number} code
 * @param {string} reason
 * @param {boolean} wasClean
 */
function publishClose(url, code, reason, wasClean) {
  if (!channels.close.hasSubscribers) return
  channels.close.publish({ url, code, reason, wasClean })
}

/**
 * A connection failed, or was aborted, before it opened.
 * @param {string} url
 * @param {unknown} error what `opened` rejected with
 */
function publishError(url, error) {
  if (!channels.error.hasSubscribers) return
  channels.error.publish({ url, error })
}

module.exports = { publishClose, publishError, publishOpen }
