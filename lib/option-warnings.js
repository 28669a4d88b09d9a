// @ts-check
'use strict'
// Mistakes in the options argument that WebIDL lets pass silently, each told
// once per process with a process warning naming what to write instead:
// - an array, WebSocket's `new WebSocket(url, ['chat'])` habit: converted as
//   a dictionary it has no `protocols` member, so no subprotocol is offered;
// - the options of other clients (ws, undici) that WebSocketStream does not
//   take, which WebIDL ignores like any unknown member.
// Nothing here changes what the constructor does, and nothing runs code of
// the caller's: only a plain object's own property names and descriptors are
// looked at (no getter is called), never a Proxy's or a class instance's.

const { types } = require('node:util')

const WARNING_TYPE = 'WebSocketStreamWarning'

/**
 * `options.a`, `options.a and options.b`, `options.a, options.b and options.c`.
 * @param {string[]} names
 * @returns {string}
 */
function listOptions(names) {
  const members = names.map((name) => `options.${name}`)
  return members.length === 1 ? members[0] : `${members.slice(0, -1).join(', ')} and ${members.at(-1)}`
}

/**
 * @param {string[]} names
 * @returns {string}
 */
function isAre(names) {
  return names.length === 1 ? 'is' : 'are'
}

/**
 * Options other clients take and we do not, by kind of mistake: the names,
 * and the warning for those of them one call used.
 * @type {ReadonlyArray<{ names: readonly string[], message: (names: string[]) => string }>}
 */
const FOREIGN_OPTIONS = [
  {
    names: ['handshakeTimeout'],
    message: (names) =>
      `${listOptions(names)} (a ws option) is ignored: to bound the opening handshake, ` +
      'pass signal: AbortSignal.timeout(ms)',
  },
  {
    names: ['followRedirects', 'maxRedirects'],
    message: (names) =>
      `${listOptions(names)} (${names.length === 1 ? 'a ws option' : 'ws options'}) ${isAre(names)} ignored: ` +
      'redirects are not followed, as the WebSocketStream draft says (a 3xx answer fails the handshake); ' +
      'connect to the final URL',
  },
  {
    names: ['rejectUnauthorized', 'ca', 'cert', 'key', 'servername'],
    message: (names) =>
      `${listOptions(names)} at the top level (where ws takes TLS settings) ${isAre(names)} ignored: ` +
      `put ${names.length === 1 ? 'it' : 'them'} in tls: { ${names.join(', ')} }`,
  },
  {
    names: ['protocol'],
    message: (names) => `${listOptions(names)} is ignored: the member is protocols, a list (write protocols: ['chat'])`,
  },
  {
    names: ['agent'],
    message: (names) =>
      `${listOptions(names)} (a ws option) is ignored: for an HTTP proxy pass proxy: 'http://host:port', ` +
      'and TLS settings go in tls: { ... }',
  },
  {
    names: ['maxPayload'],
    message: (names) =>
      `${listOptions(names)} (a ws option) is ignored: the largest message accepted is maxMessageSize (in bytes)`,
  },
  {
    names: ['origin'],
    message: (names) =>
      `${listOptions(names)} (a ws option) is ignored: send the header with headers: { Origin: '...' }`,
  },
  {
    names: ['dispatcher'],
    message: (names) =>
      `${listOptions(names)} (an undici option) is ignored: for an HTTP proxy pass proxy: 'http://host:port', ` +
      'and TLS settings go in tls: { ... }',
  },
]

/** Every name of FOREIGN_OPTIONS, for the quick test of each own property. */
const FOREIGN_NAMES = new Set(FOREIGN_OPTIONS.flatMap((kind) => kind.names))

/** What has been warned about in this process: 'array' and option names. */
const warned = new Set()

/**
 * @param {string} message
 * @param {string} code
 */
function warn(message, code) {
  process.emitWarning(message, { type: WARNING_TYPE, code })
}

/**
 * A plain object's own enumerable members that are set (an accessor counts
 * as set: it is not called). Anything else has none to look at.
 * @param {object} options
 * @returns {Set<string>}
 */
function setMembers(options) {
  const members = new Set()
  if (types.isProxy(options)) return members
  const prototype = Object.getPrototypeOf(options)
  if (prototype !== Object.prototype && prototype !== null) return members
  for (const name of Object.keys(options)) {
    if (!FOREIGN_NAMES.has(name)) continue
    const descriptor = /** @type {PropertyDescriptor} */ (Object.getOwnPropertyDescriptor(options, name))
    if (!('value' in descriptor) || descriptor.value !== undefined) members.add(name)
  }
  return members
}

/**
 * Warns, once per kind of mistake in this process, about an options argument
 * that does not mean what its author meant. Call it with the argument as
 * given, after it was found to be an object (or undefined or null).
 * @param {unknown} options
 */
function warnAboutOptions(options) {
  if (options === null || typeof options !== 'object') return
  if (Array.isArray(options)) {
    if (warned.has('array')) return
    warned.add('array')
    warn(
      "new WebSocketStream(url, ['chat']) offers no subprotocol: the second argument is an options " +
        "dictionary, not WebSocket's list of protocols. Write new WebSocketStream(url, { protocols: ['chat'] })",
      'WEBSOCKETSTREAM_OPTIONS_ARRAY',
    )
    return
  }
  const members = setMembers(options)
  if (members.size === 0) return
  for (const kind of FOREIGN_OPTIONS) {
    const names = kind.names.filter((name) => members.has(name) && !warned.has(name))
    if (names.length === 0) continue
    for (const name of names) warned.add(name)
    warn(`WebSocketStream ${kind.message(names)}`, 'WEBSOCKETSTREAM_IGNORED_OPTION')
  }
}

module.exports = { warnAboutOptions }
