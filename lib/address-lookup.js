// @ts-check
'use strict'
// The addresses to connect to, found the way net.connect finds them: with
// dns.lookup (getaddrinfo: /etc/hosts, then the OS resolver, in its order) or
// with the application's own `lookup` of the same signature. Every address is
// asked for at once: the native side races them (src/happy_eyeballs.rs),
// unless the process turned that off with net.setDefaultAutoSelectFamily(false),
// in which case only the first is tried, as net.connect then does.

const dns = require('node:dns')
const net = require('node:net')
const { describe } = require('./webidl')

/**
 * net.connect's `lookup` signature, called as Node calls it for autoSelectFamily.
 * @typedef {(
 *   hostname: string,
 *   options: { all: true },
 *   callback: (error: Error | null, address: string | dns.LookupAddress[], family?: number) => void,
 * ) => void} LookupFunction
 */

const dnsLookup = /** @type {LookupFunction} */ (dns.lookup)

/**
 * Calls `found` with the IP addresses of `host`, or `failed` with why there
 * are none, once. An IP address is its own answer, given at once.
 * @param {string} host a host name or an IP address (IPv6 without brackets)
 * @param {LookupFunction | undefined} lookup the `lookup` option; dns.lookup if undefined
 * @param {(addresses: string[]) => void} found
 * @param {(message: string, cause: unknown) => void} failed `cause`: the resolver's error, if any
 */
function lookupAddresses(host, lookup, found, failed) {
  if (net.isIP(host) !== 0) {
    found([host])
    return
  }
  let answered = false
  /** @param {string} what @param {unknown} [cause] */
  const fail = (what, cause) => failed(`DNS lookup of ${host} ${what}`, cause)
  /** @type {Parameters<LookupFunction>[2]} */
  const answer = (error, result, family) => {
    // A lookup may call back twice, or throw after calling back: the first answer counts.
    if (answered) return
    answered = true
    if (error) {
      fail(`failed: ${error instanceof Error ? error.message : describe(error)}`, error)
      return
    }
    const entries = Array.isArray(result) ? result : [{ address: result, family }]
    const addresses = entries.map((entry) => (typeof entry === 'string' ? entry : entry?.address))
    const invalid = addresses.findIndex((address) => typeof address !== 'string' || net.isIP(address) === 0)
    if (addresses.length === 0) fail('returned no address')
    else if (invalid !== -1) fail(`returned ${describe(addresses[invalid])}, which is not an IP address`)
    else found(net.getDefaultAutoSelectFamily() ? /** @type {string[]} */ (addresses) : [addresses[0]])
  }
  try {
    ;(lookup ?? dnsLookup)(host, { all: true }, answer)
  } catch (error) {
    answer(/** @type {Error} */ (error), [])
  }
}

module.exports = { lookupAddresses }
