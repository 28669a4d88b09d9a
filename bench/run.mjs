#!/usr/bin/env node
// The benchmark's orchestrator: builds and starts the load server, runs every
// (scenario, client) pair in its own process one at a time, takes medians
// over --repeat runs, prints the tables and writes bench/results/.
//
//   node bench/run.mjs [--quick] [--repeat N] [--only id,id] [--clients id,id]
//                      [--node VERSION] [--max-minutes M]
//
// See bench/README.md for what each scenario measures.

import { execFileSync, spawnSync } from 'node:child_process'
import { mkdirSync, statSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import os from 'node:os'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

import { renderChart } from './chart.mjs'
import { ensureLoadServerBuilt, startLoadServer } from './load-server.mjs'
import { formatNumber, scenarioHeading, scenarioTable, summaryTable } from './report.mjs'
import { runClient } from './run-client.mjs'
import { CLIENTS, scenarios as allScenarios } from './scenarios.mjs'

const USAGE = `usage: node bench/run.mjs [options]
  --quick            scaled-down sizes (the whole run takes under a minute)
  --repeat N         run every (scenario, client) N times and report medians (default 1)
  --only IDS         comma-separated scenario ids (${allScenarios({ quick: false })
    .map(({ id }) => id)
    .join(', ')})
  --clients IDS      comma-separated client ids (${CLIENTS.map(({ id }) => id).join(', ')})
  --node VERSION     run the whole benchmark on another Node, through npx -y node@VERSION
  --max-minutes M    stop starting new runs after M minutes (default 60, 3 with --quick)
  --help`

const repoRoot = fileURLToPath(new URL('..', import.meta.url))
const resultsDir = fileURLToPath(new URL('./results/', import.meta.url))

const { values: options } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    repeat: { type: 'string', default: '1' },
    only: { type: 'string' },
    clients: { type: 'string' },
    node: { type: 'string' },
    'max-minutes': { type: 'string' },
    help: { type: 'boolean', default: false },
  },
})

if (options.help) {
  console.log(USAGE)
  process.exit(0)
}

if (options.node) process.exit(runOnOtherNode(options.node))

const repeat = Number(options.repeat)
if (!Number.isInteger(repeat) || repeat < 1) fail(`--repeat must be a positive integer, got ${options.repeat}`)
const maxMinutes = Number(options['max-minutes'] ?? (options.quick ? 3 : 60))
const selectedScenarios = pick(allScenarios({ quick: options.quick }), options.only, 'scenario')
const selectedClients = pick(CLIENTS, options.clients, 'client')
const partial =
  selectedScenarios.length < allScenarios({ quick: false }).length || selectedClients.length < CLIENTS.length

const started = Date.now()
const deadline = started + maxMinutes * 60_000
const environment = describeEnvironment()
printHeader(environment)

ensureLoadServerBuilt()
let server = await startLoadServer()
process.on('exit', () => server.stop())
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    server.stop()
    process.exit(130)
  })
}
console.log(`load server: ${server.url}\n`)

/** The result of a client the scenario leaves out (its `clients` list). */
const NOT_APPLICABLE = { status: 'not applicable', median: {}, runs: [], failures: [], lingered: false }

const entries = []
for (const scenario of selectedScenarios) {
  // Other processes share the two cores: the load average says how much.
  const loadAverage = os.loadavg()[0]
  console.log(`== ${scenarioHeading(scenario)}  [load average ${loadAverage.toFixed(2)}]`)
  const clients = selectedClients.filter(({ id }) => !scenario.clients || scenario.clients.includes(id))
  const runs = Object.fromEntries(clients.map(({ id }) => [id, []]))
  for (let round = 0; round < repeat; round++) {
    // Rotate the order each round, so no client always runs first (cold) or last.
    const order = clients.map((_, index) => clients[(index + round) % clients.length])
    for (const { id } of order) {
      if (Date.now() > deadline) {
        runs[id].push({ status: 'skipped', message: `past --max-minutes ${maxMinutes}` })
        continue
      }
      if (!server.alive()) {
        console.log('  (the load server died; restarting it)')
        server = await startLoadServer()
      }
      const outcome = await runClient(id, scenario, server.url)
      runs[id].push(outcome)
      console.log(`  ${id.padEnd(24)} ${describeOutcome(scenario, outcome)}`)
    }
  }
  const results = Object.fromEntries(
    selectedClients.map(({ id }) => [id, runs[id] ? aggregate(runs[id]) : NOT_APPLICABLE]),
  )
  entries.push({ scenario: { ...scenario, loadAverage }, results })
  console.log(`\n${scenarioTable(scenario, results)}\n`)
}
server.stop()

const seconds = (Date.now() - started) / 1000
// Other engineers rebuild the addon while they work: a run that straddles a
// rebuild measured two builds, and says so.
const addonAtEnd = describeEnvironment().versions.websocketstreamAddonBuilt
if (addonAtEnd !== environment.versions.websocketstreamAddonBuilt) {
  environment.warnings = [
    `the addon was rebuilt during the run (${environment.versions.websocketstreamAddonBuilt} -> ${addonAtEnd})`,
  ]
  console.log(`WARNING: ${environment.warnings[0]}`)
}
console.log('== summary (ratios: how many times better websocketstream does; > 1 = websocketstream wins)\n')
console.log(summaryTable(entries))
console.log(`\nwhole run: ${formatNumber(seconds)} s`)
writeResults(entries, seconds)

// ---------------------------------------------------------------------------

function fail(message) {
  console.error(message)
  console.error(USAGE)
  process.exit(2)
}

function pick(list, wanted, what) {
  if (!wanted) return list
  const ids = wanted.split(',').map((id) => id.trim())
  for (const id of ids) {
    if (!list.some((item) => item.id === id)) fail(`unknown ${what} ${JSON.stringify(id)}`)
  }
  return list.filter((item) => ids.includes(item.id))
}

/** Re-runs this script under `npx -y node@VERSION`, passing the other options on. */
function runOnOtherNode(version) {
  const args = process.argv.slice(2).filter((arg, index, all) => arg !== '--node' && all[index - 1] !== '--node')
  const withoutInline = args.filter((arg) => !arg.startsWith('--node='))
  const child = spawnSync('npx', ['-y', `node@${version}`, fileURLToPath(import.meta.url), ...withoutInline], {
    stdio: 'inherit',
  })
  if (child.error) {
    console.error(`cannot run npx -y node@${version}: ${child.error.message}`)
    return 1
  }
  return child.status ?? 1
}

function describeEnvironment() {
  const require = createRequire(import.meta.url)
  const packageVersion = (name) => require(`${name}/package.json`).version
  let commit = null
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repoRoot, encoding: 'utf8' }).trim()
  } catch {
    // Not a git checkout.
  }
  let addonBuilt = null
  try {
    addonBuilt = statSync(`${repoRoot}websocketstream.linux-x64-gnu.node`).mtime.toISOString()
  } catch {
    // Another platform's addon name, or not built.
  }
  const cpus = os.cpus()
  return {
    node: process.version,
    versions: {
      websocketstream: require('../package.json').version,
      websocketstreamCommit: commit,
      websocketstreamAddonBuilt: addonBuilt,
      ws: packageVersion('ws'),
      undici: packageVersion('undici'),
    },
    machine: {
      cpus: cpus.length,
      cpuModel: cpus[0]?.model ?? 'unknown',
      memoryGiB: Math.round(os.totalmem() / 2 ** 30),
      kernel: `${os.type()} ${os.release()}`,
    },
    loadAverageAtStart: os.loadavg(),
    mode: options.quick ? 'quick' : 'full',
    repeat,
    date: new Date().toISOString(),
  }
}

function printHeader({ node, versions, machine, mode }) {
  console.log(`websocketstream benchmark: ${mode} run, ${repeat} repeat(s)`)
  console.log(
    `node ${node} | websocketstream ${versions.websocketstream}` +
      `${versions.websocketstreamCommit ? ` (git ${versions.websocketstreamCommit})` : ''}` +
      ` | ws ${versions.ws} | undici ${versions.undici}`,
  )
  console.log(`machine: ${machine.cpus} x ${machine.cpuModel}, ${machine.memoryGiB} GiB, ${machine.kernel}`)
  console.log(
    `load average: ${os
      .loadavg()
      .map((load) => load.toFixed(2))
      .join(' ')}`,
  )
}

/** One client run's figures, with the derived rates. */
function withRates(result) {
  const derived = { ...result }
  if (result.seconds > 0) {
    derived.rate = result.messages / result.seconds
    if (result.bytes !== undefined) derived.mbPerSec = result.bytes / result.seconds / 1e6
  }
  if (result.cpuSeconds !== undefined && result.messages > 0) {
    derived.cpuUsPerOp = (result.cpuSeconds / result.messages) * 1e6
  }
  return derived
}

/** Medians of every numeric field over the successful runs. */
function aggregate(outcomes) {
  const ok = outcomes.filter((outcome) => outcome.status === 'ok').map((outcome) => withRates(outcome.result))
  const failures = outcomes
    .filter((outcome) => outcome.status !== 'ok')
    .map(({ status, message }) => ({ status, message }))
  const median = {}
  for (const field of new Set(ok.flatMap(Object.keys))) {
    const values = ok
      .map((run) => run[field])
      .filter(Number.isFinite)
      .sort((a, b) => a - b)
    if (values.length === 0) continue
    const middle = values.length >> 1
    median[field] = values.length % 2 ? values[middle] : (values[middle - 1] + values[middle]) / 2
  }
  return {
    status: ok.length > 0 ? 'ok' : (failures[0]?.status ?? 'not run'),
    median,
    runs: ok,
    failures,
    lingered: outcomes.some((outcome) => outcome.lingered),
  }
}

function describeOutcome(scenario, outcome) {
  const wall = `(${outcome.wallSeconds?.toFixed(2) ?? '?'} s)`
  if (outcome.status !== 'ok') return `${outcome.status.toUpperCase()} ${outcome.message ?? ''} ${wall}`
  const result = withRates(outcome.result)
  const { field, unit, scale = 1 } = scenario.headline
  const linger = outcome.lingered ? '  [process lingered after closing]' : ''
  return `${formatNumber(result[field] * scale)} ${unit} ${wall}${linger}`
}

function writeResults(entries, seconds) {
  mkdirSync(resultsDir, { recursive: true })
  // Quick and partial runs get their own (git-ignored) names, so they never
  // overwrite a full run's record.
  const suffix = options.quick ? '-quick' : partial ? '-partial' : ''
  const major = process.version.slice(1).split('.')[0]
  const base = `${resultsDir}${process.version}${suffix}`
  const record = {
    ...environment,
    durationSeconds: seconds,
    scenarios: entries.map(({ scenario, results }) => ({ ...scenario, results })),
  }
  writeFileSync(`${base}.json`, `${JSON.stringify(record, null, 2)}\n`)
  const markdown = [
    `Node ${process.version}, websocketstream ${environment.versions.websocketstream}` +
      `${environment.versions.websocketstreamCommit ? ` (git ${environment.versions.websocketstreamCommit})` : ''}` +
      `, ws ${environment.versions.ws}, undici ${environment.versions.undici}; ` +
      `${environment.mode} run, ${repeat} repeat(s), ${formatNumber(seconds)} s; ` +
      `${environment.machine.cpus} x ${environment.machine.cpuModel}`,
    '',
    summaryTable(entries, { markdown: true }),
    '',
    ...entries.flatMap(({ scenario, results }) => [
      `**${scenarioHeading(scenario)}**`,
      '',
      scenarioTable(scenario, results, { markdown: true }),
      '',
    ]),
  ].join('\n')
  writeFileSync(`${base}.md`, markdown)
  const chartPath = `${resultsDir}chart-${major}${suffix}.svg`
  writeFileSync(
    chartPath,
    renderChart(entries, {
      title: `websocketstream benchmark, Node ${process.version} (${environment.mode} run)`,
      subtitle:
        `Each bar: how many times better than ws (log scale; right = more throughput or less latency/memory). ` +
        `websocketstream ${environment.versions.websocketstream}, ws ${environment.versions.ws}, undici ${environment.versions.undici}`,
    }),
  )
  console.log(`results: ${base}.json, ${base}.md, ${chartPath}`)
}
