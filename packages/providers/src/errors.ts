/**
 * Stable error codes raised by `@novacron/providers` below the `VmProvider`
 * contract (the QMP client, QEMU process handling). Provider operations
 * themselves report core's taxonomy (`CORE_PROVIDER_*`) and carry these as
 * `cause` when the QMP layer was at fault.
 */
export const ProvidersErrorCode = {
  /** The QMP peer sent something that is not QMP: bad JSON, an oversized line, an unexpected greeting. The connection is closed. */
  QMP_PROTOCOL: 'PROVIDERS_QMP_PROTOCOL',
  /** QEMU answered a command with an error; `details.errorClass` and `details.desc` hold QEMU's words. */
  QMP_COMMAND_FAILED: 'PROVIDERS_QMP_COMMAND_FAILED',
  /** The QMP connection closed (or was never open) while a command needed it. */
  QMP_DISCONNECTED: 'PROVIDERS_QMP_DISCONNECTED',
  /** The QMP socket could not be connected within the deadline. */
  QMP_CONNECT_FAILED: 'PROVIDERS_QMP_CONNECT_FAILED',
  /** `qemu-system-*` could not be started or exited during startup; `details.stderr` holds its last words. */
  QEMU_SPAWN_FAILED: 'PROVIDERS_QEMU_SPAWN_FAILED',
} as const;

/** Union of every code in {@link ProvidersErrorCode}. */
export type ProvidersErrorCode = (typeof ProvidersErrorCode)[keyof typeof ProvidersErrorCode];
