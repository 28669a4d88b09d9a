// Starts the temp project's echo-server.mjs (its own `ws`, 127.0.0.1 only) in
// a child process and reads its connection statistics, which tell whether a
// check's clients all ended their connections with a closing handshake.

import { spawn } from 'node:child_process'
import http from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'

const START_TIMEOUT_MS = 15_000

/**
 * @returns {Promise<{ url: string, stats(): Promise<object>, settledStats(): Promise<object>, stop(): void }>}
 */
export function startEchoServer(projectDirectory, env) {
  // stdin is a pipe the server watches: it exits as soon as this process goes,
  // even if this process is killed before it can stop the server.
  const child = spawn(process.execPath, ['echo-server.mjs'], {
    cwd: projectDirectory,
    env,
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`the echo server did not start within ${START_TIMEOUT_MS / 1000} s`))
    }, START_TIMEOUT_MS)
    child.on('exit', (code) => reject(new Error(`the echo server exited (code ${code}) before listening`)))
    let buffered = ''
    child.stdout.setEncoding('utf8').on('data', (chunk) => {
      buffered += chunk
      const match = /LISTENING (\d+)/.exec(buffered)
      if (!match) return
      clearTimeout(timer)
      child.stdout.removeAllListeners('data').resume()
      const origin = `127.0.0.1:${match[1]}`
      const stats = () => getJson(`http://${origin}/stats`)
      resolve({
        url: `ws://${origin}/`,
        stats,
        /** The statistics once every connection has ended (the server may see a close a moment late). */
        async settledStats(waitMs = 3000) {
          const deadline = Date.now() + waitMs
          let current = await stats()
          while (current.open > 0 && Date.now() < deadline) {
            await sleep(50)
            current = await stats()
          }
          return current
        },
        stop() {
          child.removeAllListeners('exit')
          child.stdin.end()
          child.kill()
        },
      })
    })
  })
}

/** GET a JSON document without keeping a pooled connection (and so this process) alive. */
function getJson(url) {
  return new Promise((resolve, reject) => {
    const request = http.get(url, { agent: false, timeout: 5000 }, (response) => {
      let body = ''
      response.setEncoding('utf8').on('data', (chunk) => (body += chunk))
      response.on('end', () => {
        try {
          resolve(JSON.parse(body))
        } catch (error) {
          reject(error)
        }
      })
    })
    request.on('timeout', () => request.destroy(new Error(`no answer from ${url}`)))
    request.on('error', reject)
  })
}
