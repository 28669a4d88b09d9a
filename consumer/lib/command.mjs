// Runs one command of the consumer test with a hard time limit, and reports
// what it printed, how it ended and whether it left processes behind.
//
// Every step must be bounded: a client that keeps its process alive is the
// very bug some checks look for, so a hang has to become a FAIL, not a stuck
// CI job. Each command gets its own process group (detached), so on timeout
// the whole tree it started (npx → node, jest → workers) is killed with it.

import { spawn } from 'node:child_process'
import { stripVTControlCharacters } from 'node:util'

const OUTPUT_LIMIT = 2 * 1024 * 1024 // characters kept per command
const GRACE_MS = 3000 // after the command exits, how long its pipes may stay open
const running = new Set() // process groups of commands not finished yet

/** Kills the process groups of the commands still running (when the runner itself is stopped). */
export function killRunning() {
  for (const pid of running) {
    try {
      process.kill(-pid, 'SIGKILL')
    } catch {
      // already gone
    }
  }
}

/**
 * @param {string} command
 * @param {string[]} args
 * @param {{ cwd: string, env?: NodeJS.ProcessEnv, timeoutMs: number, input?: string }} options
 * @returns {Promise<{ code: number | null, signal: string | null, timedOut: boolean,
 *   strays: boolean, output: string, stdout: string, ms: number }>}
 */
export function runCommand(command, args, { cwd, env = process.env, timeoutMs, input }) {
  const started = Date.now()
  const child = spawn(command, args, {
    cwd,
    env,
    detached: true,
    stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  })
  if (input !== undefined) child.stdin.end(input)
  if (child.pid !== undefined) running.add(child.pid)

  let output = '' // stdout and stderr interleaved, as a person would see them
  let stdout = ''
  const keep = (text, chunk) => (text.length < OUTPUT_LIMIT ? text + chunk : text)
  // Colour codes stripped, whole (a code may straddle two chunks): some tools colour even into a pipe.
  const plain = (text) => stripVTControlCharacters(text)
  child.stdout.setEncoding('utf8').on('data', (chunk) => {
    output = keep(output, chunk)
    stdout = keep(stdout, chunk)
  })
  child.stderr.setEncoding('utf8').on('data', (chunk) => {
    output = keep(output, chunk)
  })

  return new Promise((resolve) => {
    let timedOut = false
    let strays = false
    let exit = { code: null, signal: null }
    const killGroup = (signal) => {
      try {
        process.kill(-child.pid, signal) // the group this command leads, and only it
      } catch {
        // already gone
      }
    }
    const timer = setTimeout(() => {
      timedOut = true
      killGroup('SIGTERM')
      setTimeout(() => killGroup('SIGKILL'), 2000).unref()
    }, timeoutMs)

    child.on('error', (error) => {
      clearTimeout(timer)
      running.delete(child.pid)
      resolve({
        code: null,
        signal: null,
        timedOut,
        strays,
        output: String(error),
        stdout: plain(stdout),
        ms: Date.now() - started,
      })
    })
    child.on('exit', (code, signal) => {
      exit = { code, signal }
      // A grandchild still holding our pipes means the command left a process
      // running: give it a moment, then end it (it is ours) and say so.
      setTimeout(() => {
        if (child.stdout.readable || child.stderr.readable) {
          strays = true
          killGroup('SIGKILL')
        }
      }, GRACE_MS).unref()
    })
    child.on('close', () => {
      clearTimeout(timer)
      running.delete(child.pid)
      resolve({ ...exit, timedOut, strays, output: plain(output), stdout: plain(stdout), ms: Date.now() - started })
    })
  })
}

/** One line saying how a command ended, for FAIL details. */
export function describeEnd(result, timeoutMs) {
  if (result.timedOut) return `did not finish within ${timeoutMs / 1000} s (killed)`
  if (result.signal) return `killed by ${result.signal}`
  return `exit code ${result.code}`
}
