import { AmstErrorCode, amstError } from '../errors.js';

/** A parsed `host:port` address. */
export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/**
 * Parses `host:port`, `[v6]:port` or `:port` (all interfaces).
 *
 * @throws `AMST_ADDRESS_INVALID` when the string is not of that shape or the
 *   port is not an integer in [0, 65535].
 */
export function parseHostPort(address: string): HostPort {
  if (typeof address !== 'string') throw amstError(AmstErrorCode.ADDRESS_INVALID, 'address must be a string');
  let host: string;
  let portText: string;
  if (address.startsWith('[')) {
    const close = address.indexOf(']');
    if (close < 0 || address[close + 1] !== ':') throw invalid(address);
    host = address.slice(1, close);
    portText = address.slice(close + 2);
  } else {
    const colon = address.lastIndexOf(':');
    if (colon < 0) throw invalid(address);
    host = address.slice(0, colon);
    portText = address.slice(colon + 1);
    if (host.includes(':')) throw invalid(address);
  }
  if (!/^\d{1,5}$/.test(portText)) throw invalid(address);
  const port = Number(portText);
  if (port > 65535) throw invalid(address);
  return { host: host === '' ? '0.0.0.0' : host, port };
}

/** Formats a host and port as {@link parseHostPort} reads them. */
export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

function invalid(address: string) {
  return amstError(AmstErrorCode.ADDRESS_INVALID, `not a host:port address: ${JSON.stringify(address.slice(0, 100))}`, {
    address: address.slice(0, 100),
  });
}
