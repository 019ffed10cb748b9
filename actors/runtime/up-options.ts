/**
 * `novactor up`'s options and their defaults: the one-machine cloud (an embedded nats-server
 * and every role as a child process). Flags and tests both go through `compileUpOptions`.
 */
import { DEFAULT_DRIVER, DRIVER_KINDS, type DriverKind } from '../../virt/index.js';
import { DEFAULT_REPLICAS, integer, option, REPLICAS } from './options.js';

/** Compute hosts h1…hN; 0 runs the control plane and placement only. */
export const DEFAULT_UP_HOSTS = 3;
export const UP_HOSTS = integer(0, 100);
/** The embedded nats-server's client port (NATS's own default). */
export const DEFAULT_NATS_PORT = 4222;
export const PORT = integer(1, 65_535);
/** Where the embedded server and the hosts keep their data, relative to the working directory. */
export const DEFAULT_UP_DATA = '.novactor';

export interface UpOptions {
  readonly hosts?: number;
  readonly port?: number;
  readonly data?: string;
  readonly driver?: string;
  readonly replicas?: number;
  readonly demo?: boolean;
  readonly secure?: boolean;
}

export interface CompiledUpOptions {
  readonly hosts: number;
  readonly port: number;
  readonly data: string;
  readonly driver: DriverKind;
  readonly replicas: number;
  readonly demo: boolean;
  readonly secure: boolean;
}

/** Fills the defaults and checks the rest; a bad value is an InvalidOption. */
export function compileUpOptions(o: UpOptions): CompiledUpOptions {
  return {
    port: option('port', o.port, DEFAULT_NATS_PORT, PORT),
    replicas: option('replicas', o.replicas, DEFAULT_REPLICAS, REPLICAS),
    hosts: option('hosts', o.hosts, DEFAULT_UP_HOSTS, UP_HOSTS),
    driver: option('driver', o.driver, DEFAULT_DRIVER, { kind: 'oneOf', values: DRIVER_KINDS }) as DriverKind,
    data: o.data ?? DEFAULT_UP_DATA,
    demo: o.demo === true,
    secure: o.secure === true,
  };
}
