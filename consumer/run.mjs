// The consumer test (`npm run test:consumer`): the package as its users meet
// it, from outside the repo. It packs the package, installs the tarball into
// a fresh project under os.tmpdir() (with ws, typescript, jest, ava, vitest),
// and there, against a local ws server on 127.0.0.1:
// - checks the tarball's contents and prints its size;
// - runs a CommonJS and an ESM script that echo and close, and must exit by themselves;
// - runs the `websocketstream` command through npx;
// - runs MDN's ping/pong client on the global entry;
// - compiles typed code with tsc --strict (node16 and bundler resolution), and
//   checks that wrong code fails with the expected errors;
// - runs a jest, an ava, a vitest and a node --test suite, with no force-exit flags;
// - runs the smoke scripts again on Node 22, 24 and 26 (the npm registry's `node`).
// One PASS/FAIL line per check; the exit code is 1 if any failed.
// KEEP_CONSUMER_DIR=1 keeps the temp directory; VERBOSE=1 shows every command's output.

import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { failedCount, note, record, summaryLine } from './lib/checks.mjs'
import { clientCheck } from './lib/clients.mjs'
import { describeEnd, killRunning, runCommand } from './lib/command.mjs'
import { consumerEnv } from './lib/environment.mjs'
import { createProject, installProject } from './lib/project.mjs'
import { startEchoServer } from './lib/server.mjs'
import { packAndInspect } from './lib/tarball.mjs'
import { typeScriptChecks } from './lib/typescript.mjs'

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url))
const NODE_LINES = ['22', '24', '26'] // besides the Node running this script
const SUITE_TESTS = 4 // each of the jest, ava, vitest and node --test suites has four tests
const started = Date.now()

const workDirectory = fs.mkdtempSync(path.join(os.tmpdir(), 'websocketstream-consumer-'))
const projectDirectory = path.join(workDirectory, 'project')
const env = consumerEnv()
let server

function cleanUp() {
  server?.stop()
  if (process.env.KEEP_CONSUMER_DIR === '1') note(`kept ${workDirectory} (KEEP_CONSUMER_DIR=1)`)
  else fs.rmSync(workDirectory, { recursive: true, force: true })
}

// Stopped from outside (Ctrl-C, a CI timeout): take our processes and files with us.
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    killRunning()
    cleanUp()
    process.exit(1)
  })
}

/** The consumer programs, run in the temp project against the echo server. */
async function clientChecks() {
  const inProject = { cwd: projectDirectory, env: { ...env, WS_URL: server.url } }
  const node = process.execPath
  const version = process.version

  await clientCheck(
    'CommonJS script: echo, close, exit by itself',
    {
      ...inProject,
      command: node,
      args: ['smoke/echo.cjs'],
      timeoutMs: 20_000,
      expect: [/^smoke ok \(cjs\)/m],
    },
    server,
  )
  await clientCheck(
    'ESM script: echo, close, exit by itself',
    {
      ...inProject,
      command: node,
      args: ['smoke/echo.mjs'],
      timeoutMs: 20_000,
      expect: [/^smoke ok \(esm\)/m],
    },
    server,
  )

  // --no: the command must come from the installed package, never be fetched.
  await clientCheck(
    'npx websocketstream: stdin lines echoed to stdout',
    {
      ...inProject,
      command: 'npx',
      args: ['--no', 'websocketstream', server.url],
      timeoutMs: 30_000,
      input: 'hello\nworld\n',
      expect: [/^hello\nworld$/m],
    },
    server,
  )

  // The sample pings every 5 s; the server closes after the second pong.
  await clientCheck(
    "global entry: MDN's ping/pong sample runs unchanged but for its DOM lines",
    {
      ...inProject,
      env: { ...inProject.env, WS_URL: `${server.url}?rounds=2` },
      command: node,
      args: ['global/pingpong.mjs'],
      timeoutMs: 40_000,
      expect: [
        /^CONNECTED$/m,
        /RECEIVED: pong\n[\s\S]*RECEIVED: pong\n/,
        /^DISCONNECTED: code 1000, message "That's all folks"$/m,
      ],
      forbid: [/does not support WebSocketStream/],
    },
    server,
  )

  await typeScriptChecks(projectDirectory, env)

  // --detectOpenHandles and no --forceExit: jest must end on its own and name no handle.
  await clientCheck(
    `jest ${version}: --detectOpenHandles, no --forceExit`,
    {
      ...inProject,
      command: node,
      args: ['node_modules/jest/bin/jest.js', '--detectOpenHandles'],
      timeoutMs: 60_000,
      expect: [new RegExp(`Tests:\\s+${SUITE_TESTS} passed, ${SUITE_TESTS} total`)],
      forbid: [/open handles?/i, /did not exit/i],
    },
    server,
  )
  await clientCheck(
    `ava ${version} (worker threads, its default)`,
    {
      ...inProject,
      command: node,
      args: ['node_modules/ava/entrypoints/cli.mjs'],
      timeoutMs: 60_000,
      expect: [new RegExp(`${SUITE_TESTS} tests passed`)],
      forbid: [/Failed to exit/i, /Timed out/i],
    },
    server,
  )
  for (const pool of ['forks', 'threads']) {
    await clientCheck(
      `vitest ${version} (pool ${pool})`,
      {
        ...inProject,
        command: node,
        args: ['node_modules/vitest/vitest.mjs', 'run', '--dir', 'vitest', `--pool=${pool}`],
        timeoutMs: 60_000,
        expect: [new RegExp(`Tests\\s+${SUITE_TESTS} passed \\(${SUITE_TESTS}\\)`)],
        forbid: [/close timed out/i, /something prevents/i, /hanging/i],
      },
      server,
    )
  }
  await clientCheck(
    `node --test ${version}, no --test-force-exit`,
    {
      ...inProject,
      command: node,
      args: ['--test', 'node-test/echo.test.mjs'],
      timeoutMs: 30_000,
      expect: [new RegExp(`^# pass ${SUITE_TESTS}$`, 'm'), /^# fail 0$/m],
    },
    server,
  )

  // The same installed package on the other supported Node lines, as `npx -y node@N` runs them.
  for (const line of NODE_LINES) {
    if (!(await fetchNode(line))) continue
    for (const script of ['smoke/echo.cjs', 'smoke/echo.mjs']) {
      const kind = script.endsWith('.cjs') ? 'cjs' : 'esm'
      await clientCheck(
        `Node ${line}: ${script} (npx -y node@${line})`,
        {
          ...inProject,
          command: 'npx',
          args: ['-y', `node@${line}`, script],
          timeoutMs: 30_000,
          expect: [new RegExp(`^smoke ok \\(${kind}\\) on v${line}\\.`, 'm')],
        },
        server,
      )
    }
  }
}

/**
 * Brings node@<line> into npx's cache first, so that the smoke scripts'
 * own time limit is about them and not about a download.
 */
async function fetchNode(line) {
  const timeoutMs = 240_000
  const result = await runCommand('npx', ['-y', `node@${line}`, '--version'], { cwd: projectDirectory, env, timeoutMs })
  const version = /^v\d+\.\d+\.\d+$/m.exec(result.stdout)?.[0]
  if (result.code === 0 && version?.startsWith(`v${line}.`)) {
    note(`node@${line} from the npm registry: ${version} (${(result.ms / 1000).toFixed(1)} s)`)
    return true
  }
  record(
    `Node ${line} from the npm registry (npx -y node@${line})`,
    false,
    describeEnd(result, timeoutMs),
    result.output,
  )
  return false
}

async function main() {
  console.log(`consumer test: Node ${process.version}, working in ${workDirectory}`)
  const tarball = await packAndInspect(REPO_ROOT, path.join(workDirectory, 'pack'), env)
  if (!tarball) return
  createProject(projectDirectory, tarball)
  if (!(await installProject(projectDirectory, env))) return
  try {
    server = await startEchoServer(projectDirectory, env)
  } catch (error) {
    record('start the local ws echo server', false, error.message)
    return
  }
  note(`echo server (the temp project's ws) on ${server.url}`)
  await clientChecks()
}

try {
  await main()
} catch (error) {
  record('the consumer test ran to its end', false, 'the runner itself failed', error.stack)
} finally {
  cleanUp()
}
note(`total ${((Date.now() - started) / 1000).toFixed(0)} s`)
console.log(summaryLine())
process.exitCode = failedCount() > 0 ? 1 : 0
