import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createClusterCa } from '@novacron/amst';
import { NodeIdentity } from '@novacron/core';
import type { NodeConfigInput } from '../config/schema.js';
import { Secret } from './secret.js';
import { mintToken } from './token-format.js';

/** Files {@link bootstrapClusterSecurity} wrote. */
export interface ClusterSecurityFiles {
  /** Cluster CA certificate (PEM). */
  readonly caCertFile: string;
  /** Cluster CA private key (PKCS#8 PEM, mode 0600): whoever holds it can admit nodes. */
  readonly caKeyFile: string;
  /** The gossip keyring (one fresh 256-bit key, id 1; mode 0600) for sealed UDP gossip. */
  readonly gossipKeyFile: string;
  /** An admin API token every node started with these files accepts (mode 0600). */
  readonly apiTokenFile: string;
  /** That token, for clients in the same process. */
  readonly token: Secret;
  /** The `security` configuration block for a node holding the CA key. */
  readonly config: NonNullable<NodeConfigInput['security']>;
}

/**
 * Creates what a new cluster's first nodes need in `dir`: a cluster CA
 * (Ed25519, 10 years), a gossip keyring and an admin API token. `novacron cluster up`, the
 * demo and the tests start every node with the returned `config`, so peers
 * verify each other's CA-issued certificates and clients use the token.
 * For production, keep the CA key off the nodes after bootstrap and admit
 * further nodes with join tokens (docs/security.md, "Admission").
 */
export async function bootstrapClusterSecurity(
  dir: string,
  options: { readonly name?: string } = {},
): Promise<ClusterSecurityFiles> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const ca = await createClusterCa(NodeIdentity.generate(), { name: options.name ?? 'novacron-cluster-ca' });
  const caCertFile = join(dir, 'ca.crt');
  const caKeyFile = join(dir, 'ca.key');
  const apiTokenFile = join(dir, 'admin.token');
  const gossipKeyFile = join(dir, 'gossip.key');
  await writeFile(gossipKeyFile, `1:${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
  const minted = mintToken('ncat');
  await writeFile(caCertFile, ca.certPem, { mode: 0o644 });
  await writeFile(caKeyFile, ca.keyPem, { mode: 0o600 });
  await writeFile(apiTokenFile, `${minted.token}\n`, { mode: 0o600 });
  return {
    caCertFile,
    caKeyFile,
    apiTokenFile,
    gossipKeyFile,
    token: new Secret(minted.token),
    config: { caCertFile, caKeyFile, apiTokenFile, gossipKeyFile },
  };
}
