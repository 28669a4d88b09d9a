// @ts-check
'use strict'
// diagnostics_channel events, for tracing and metrics. Each is published only
// when its channel has subscribers: without one, no message is built. Pings
// and Pongs cross from the native side only for connections made while their
// channels had a subscriber, so that nobody else pays for that crossing.

const diagnosticsChannel = require('node:diagnostics_channel')

const channels = {
  open: diagnosticsChannel.channel('websocketstream:open'),
  close: diagnosticsChannel.channel('websocketstream:close'),
  error: diagnosticsChannel.channel('websocketstream:error'),
  ping: diagnosticsChannel.channel('websocketstream:ping'),
  pong: diagnosticsChannel.channel('websocketstream:pong'),
}

/** Whether a connection made now should report the Pings and Pongs it receives. */
function wantsControlFrames() {
  return channels.ping.hasSubscribers || channels.pong.hasSubscribers
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

/**
 * A Ping (`kind` 'ping') or a Pong ('pong') arrived.
 * @param {'ping' | 'pong'} kind
 * @param {string} url
 * @param {Uint8Array} payload
 */
function publishControlFrame(kind, url, payload) {
  const channel = channels[kind]
  if (!channel.hasSubscribers) return
  channel.publish({ url, payload })
}

module.exports = { publishClose, publishControlFrame, publishError, publishOpen, wantsControlFrames }
