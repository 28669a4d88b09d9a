// A throwaway certificate authority for the TLS specs, made with openssl:
// a server certificate for localhost/127.0.0.1, one for another host, a
// client certificate, and an untrusted self-signed one.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

function openssl(dir, args) {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] })
}

function issue(dir, name, subjectAltName, extendedKeyUsage) {
  openssl(dir, [
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.csr`,
    '-subj',
    `/CN=${name}`,
  ])
  fs.writeFileSync(
    path.join(dir, `${name}.ext`),
    `basicConstraints=CA:FALSE\nextendedKeyUsage=${extendedKeyUsage}\n${subjectAltName ? `subjectAltName=${subjectAltName}\n` : ''}`,
  )
  openssl(dir, [
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    `${name}.pem`,
    '-days',
    '2',
    '-extfile',
    `${name}.ext`,
  ])
  return {
    cert: fs.readFileSync(path.join(dir, `${name}.pem`), 'utf8'),
    key: fs.readFileSync(path.join(dir, `${name}.key`), 'utf8'),
  }
}

export function makeCertificates() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'websocketstream-tls-'))
  try {
    openssl(dir, [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'ca.key',
      '-out',
      'ca.pem',
      '-days',
      '2',
      '-subj',
      '/CN=websocketstream test CA',
    ])
    openssl(dir, [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'untrusted.key',
      '-out',
      'untrusted.pem',
      '-days',
      '2',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
    ])
    return {
      dir,
      ca: fs.readFileSync(path.join(dir, 'ca.pem'), 'utf8'),
      caFile: path.join(dir, 'ca.pem'),
      server: issue(dir, 'server', 'DNS:localhost,IP:127.0.0.1', 'serverAuth'),
      otherHost: issue(dir, 'other', 'DNS:other.example', 'serverAuth'),
      client: issue(dir, 'client', '', 'clientAuth'),
      untrusted: {
        cert: fs.readFileSync(path.join(dir, 'untrusted.pem'), 'utf8'),
        key: fs.readFileSync(path.join(dir, 'untrusted.key'), 'utf8'),
      },
      remove: () => fs.rmSync(dir, { recursive: true, force: true }),
    }
  } catch (error) {
    fs.rmSync(dir, { recursive: true, force: true })
    throw error
  }
}
