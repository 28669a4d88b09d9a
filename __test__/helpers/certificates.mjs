// A throwaway certificate authority for the TLS specs, made with openssl:
// a server certificate for localhost/127.0.0.1, one for another host, one
// that is itself a CA, a client certificate, an untrusted self-signed one,
// and two "development certificates" as `openssl req -x509 … -subj
// /CN=localhost` makes them (their own CA, a CN and no subjectAltName).
// Each is valid for two days.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

function openssl(dir, args) {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] })
}

/** `<name>.pem` and `<name>.key` in `dir`, as { cert, key }. */
function read(dir, name) {
  return {
    cert: fs.readFileSync(path.join(dir, `${name}.pem`), 'utf8'),
    key: fs.readFileSync(path.join(dir, `${name}.key`), 'utf8'),
  }
}

/** A self-signed certificate for `subject`, with `extra` openssl req arguments. */
function selfSigned(dir, name, subject, extra = []) {
  const keyAndCert = ['-keyout', `${name}.key`, '-out', `${name}.pem`]
  openssl(dir, [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    ...keyAndCert,
    '-days',
    '2',
    '-subj',
    subject,
    ...extra,
  ])
  return read(dir, name)
}

/** A certificate the test CA (ca.pem, ca.key) issues; `isCa` makes it a CA itself. */
function issue(dir, name, subjectAltName, extendedKeyUsage, isCa = false) {
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
    `basicConstraints=${isCa ? 'critical,CA:TRUE' : 'CA:FALSE'}\nextendedKeyUsage=${extendedKeyUsage}\n${subjectAltName ? `subjectAltName=${subjectAltName}\n` : ''}`,
  )
  const signedByCa = ['-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial']
  openssl(dir, [
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    ...signedByCa,
    '-out',
    `${name}.pem`,
    '-days',
    '2',
    '-extfile',
    `${name}.ext`,
  ])
  return read(dir, name)
}

export function makeCertificates() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'websocketstream-tls-'))
  try {
    const ca = selfSigned(dir, 'ca', '/CN=websocketstream test CA')
    return {
      dir,
      ca: ca.cert,
      caFile: path.join(dir, 'ca.pem'),
      server: issue(dir, 'server', 'DNS:localhost,IP:127.0.0.1', 'serverAuth'),
      otherHost: issue(dir, 'other', 'DNS:other.example', 'serverAuth'),
      caAsServer: issue(dir, 'ca-as-server', 'DNS:localhost', 'serverAuth', true),
      development: selfSigned(dir, 'development', '/CN=localhost'),
      otherDevelopment: selfSigned(dir, 'other-development', '/CN=localhost'),
      client: issue(dir, 'client', '', 'clientAuth'),
      untrusted: selfSigned(dir, 'untrusted', '/CN=localhost', [
        '-addext',
        'subjectAltName=DNS:localhost,IP:127.0.0.1',
      ]),
      remove: () => fs.rmSync(dir, { recursive: true, force: true }),
    }
  } catch (error) {
    fs.rmSync(dir, { recursive: true, force: true })
    throw error
  }
}
