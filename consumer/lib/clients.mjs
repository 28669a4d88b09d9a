// Runs one consumer program (a script, a test runner, the command) against
// the echo server and decides its check from three kinds of evidence:
// - it ended by itself, with exit code 0, within its time limit, leaving no
//   process behind (no force flags anywhere: a hang is a FAIL);
// - its output says what it should (and nothing it must not, such as jest's
//   open-handle report);
// - the server saw each of its connections end with a closing handshake. A
//   test runner that kills a worker holding a connection open (vitest does,
//   silently) shows up here as a close without handshake (1006).

import { runCommand, describeEnd } from './command.mjs'
import { record } from './checks.mjs'

function count(stats, code) {
  return stats.closeCodes[code] ?? 0
}

/**
 * @param {string} name
 * @param {object} run
 * @param {string} run.command
 * @param {string[]} run.args
 * @param {string} run.cwd
 * @param {NodeJS.ProcessEnv} run.env
 * @param {number} run.timeoutMs
 * @param {string} [run.input] stdin
 * @param {RegExp[]} [run.expect] must all match the output
 * @param {RegExp[]} [run.forbid] must not match the output
 * @param {{ stats(): Promise<any>, settledStats(): Promise<any> }} server
 */
export async function clientCheck(
  name,
  { command, args, cwd, env, timeoutMs, input, expect = [], forbid = [] },
  server,
) {
  const before = await server.stats()
  const result = await runCommand(command, args, { cwd, env, timeoutMs, input })
  const after = await server.settledStats()

  const problems = []
  if (result.timedOut && expect.length > 0 && expect.every((pattern) => pattern.test(result.output))) {
    problems.push(`it did its work but did not exit by itself within ${timeoutMs / 1000} s (killed)`)
  } else if (result.timedOut || result.code !== 0) problems.push(describeEnd(result, timeoutMs))
  if (result.strays) problems.push('it exited but left a process running')
  for (const pattern of expect) {
    if (!pattern.test(result.output)) problems.push(`output lacks ${pattern}`)
  }
  for (const pattern of forbid) {
    const match = pattern.exec(result.output)
    if (match) problems.push(`output says ${JSON.stringify(match[0])}`)
  }
  const connections = after.connections - before.connections
  const unclean = count(after, 1006) - count(before, 1006)
  if (connections === 0) problems.push('the server saw no connection')
  if (unclean > 0) problems.push(`${unclean} connection(s) ended without a closing handshake`)
  if (after.open > 0) problems.push(`${after.open} connection(s) still open`)

  const summary = `${connections} connection(s), ${(result.ms / 1000).toFixed(1)} s`
  record(name, problems.length === 0, problems.length ? `${problems.join('; ')}; ${summary}` : summary, result.output)
  return problems.length === 0
}
