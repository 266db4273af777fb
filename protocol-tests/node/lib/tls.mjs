// A throwaway public-key infrastructure for the TLS tests, made at test time
// with the openssl command line (scripts/test installs it when missing):
// a test CA, and server certificates it signed for localhost / 127.0.0.1
// (valid), for another name only (mismatched), and for localhost but expired
// in 2020. Nothing here is committed; the directory is removed by `cleanup`.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

function openssl(dir, args) {
  try {
    execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (error) {
    if (error.code === 'ENOENT') {
      throw new Error('the TLS tests need the openssl command (scripts/test installs it: apt-get install openssl)');
    }
    throw new Error(`openssl ${args.join(' ')} failed: ${error.stderr}`);
  }
}

/** A P-256 key and a certificate request for CN=`cn`, in `dir`. */
function keyAndRequest(dir, name, cn) {
  openssl(dir, ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`]);
}

/**
 * Makes the CA and the three server certificates.
 *
 * @returns {{ dir: string, ca: Buffer, caFile: string,
 *   valid: { cert: string, key: string }, mismatched: { cert: string, key: string },
 *   expired: { cert: string, key: string }, cleanup: () => void }}
 *   `cert` and `key` are file paths; `ca` is the CA certificate's PEM.
 */
export function makeTestPki() {
  const dir = mkdtempSync(path.join(tmpdir(), 'siobridge-tls-'));
  openssl(dir, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=siobridge test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign']);
  writeFileSync(path.join(dir, 'localhost.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  writeFileSync(path.join(dir, 'other.ext'), 'subjectAltName=DNS:other.example\n');

  const sign = (name, ext) => openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem',
    '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', ext, '-out', `${name}.pem`]);
  keyAndRequest(dir, 'valid', 'localhost');
  sign('valid', 'localhost.ext');
  keyAndRequest(dir, 'mismatched', 'other.example');
  sign('mismatched', 'other.ext');

  // `openssl x509` of OpenSSL 3.0 cannot backdate: `openssl ca` can.
  keyAndRequest(dir, 'expired', 'localhost');
  writeFileSync(path.join(dir, 'index.txt'), '');
  writeFileSync(path.join(dir, 'serial'), '1000\n');
  writeFileSync(path.join(dir, 'ca.cnf'), [
    '[ca]', 'default_ca = test', '[test]', 'database = index.txt', 'new_certs_dir = .',
    'serial = serial', 'default_md = sha256', 'policy = any', '[any]', 'commonName = supplied', '',
  ].join('\n'));
  openssl(dir, ['ca', '-batch', '-config', 'ca.cnf', '-cert', 'ca.pem', '-keyfile', 'ca.key',
    '-in', 'expired.csr', '-out', 'expired.pem', '-notext', '-extfile', 'localhost.ext',
    '-startdate', '20200101000000Z', '-enddate', '20200102000000Z']);

  const pair = (name) => ({ cert: path.join(dir, `${name}.pem`), key: path.join(dir, `${name}.key`) });
  return {
    dir,
    caFile: path.join(dir, 'ca.pem'),
    ca: readFileSync(path.join(dir, 'ca.pem')),
    valid: pair('valid'),
    mismatched: pair('mismatched'),
    expired: pair('expired'),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
