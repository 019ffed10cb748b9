/**
 * Every role of a one-machine cloud and how to launch it: `novactor up` runs them, and so does a chaos run, exactly
 * alike (each as its own child process, see role-processes.ts).
 */
import { join } from 'node:path';
import { privateUri } from '../../virt/index.js';
import { ADMIN_PROJECT, credsFile } from './secure-config.js';

export interface RoleLaunch {
  /** The label in the ready line and in `up`'s messages; also names the log file. */
  readonly name: string;
  /** `novactor` arguments: the role's subcommand first, so `ps` shows which role a process runs. */
  readonly args: readonly string[];
  readonly ready: RegExp;
}

/** How long `up`'s libvirt hosts wait for a clean shutdown before destroying a guest. */
export const UP_SHUTDOWN_TIMEOUT_S = 5;

/** Every role of a one-machine cloud: the control plane, placement, and compute hosts h1…hN. */
export function rolesOf(o: {
  hosts: number;
  driver: string;
  data: string;
  url: string;
  replicas: number;
  secure?: boolean;
  /** The compute hosts' CPU allocation ratio (their default when absent). */
  cpuRatio?: number;
  /** `HOST:PORT` of the HTTP APIs (`novactor api`), none when absent. */
  http?: string;
}): RoleLaunch[] {
  const common = ['--server', o.url];
  const stores = ['--replicas', String(o.replicas)];
  // Secure mode: each role connects with its own credentials, and the gateway honours admin
  // rights only on the admin project's subjects, which only the admin user may publish.
  const creds = (role: string) => (o.secure ? ['--creds', credsFile(o.data, role)] : []);
  const roles: RoleLaunch[] = [
    {
      name: 'placement',
      args: ['placement', '--name', 'placement-1', ...common, ...stores, ...creds('placement')],
      ready: /running/,
    },
    {
      name: 'gateway',
      args: [
        'gateway',
        '--name',
        'gateway-1',
        ...common,
        ...stores,
        ...creds('gateway'),
        ...(o.secure ? ['--admin-project', ADMIN_PROJECT] : []),
        '--volume-dir',
        join(o.data, 'volumes'),
      ],
      ready: /\bready\b/,
    },
    {
      name: 'conductor',
      args: ['conductor', '--name', 'conductor-1', ...common, ...stores, ...creds('conductor')],
      ready: /\bready\b/,
    },
  ];
  // The HTTP face: in secure mode each Identity token acts over its own connection as its NATS
  // user (`--secure`); the process's own connection (the admin's) serves Placement's admin API.
  if (o.http !== undefined)
    roles.push({
      name: 'api',
      args: [
        'api',
        '--name',
        'api-1',
        '--listen',
        o.http,
        ...common,
        ...stores,
        ...creds('admin'),
        ...(o.secure ? ['--secure'] : []),
      ],
      ready: /\bready\b/,
    });
  for (let i = 1; i <= o.hosts; i++) {
    const host = `h${i}`;
    // The libvirt driver: each host its own private libvirtd (a role of its own, started with
    // placement, before the hosts), so that moves between hosts are real migrations.
    const libvirtRoot = join(o.data, 'hosts', host, 'libvirt');
    if (o.driver === 'libvirt')
      roles.push({ name: `libvirtd-${host}`, args: ['libvirtd', '--root', libvirtRoot], ready: /\bready\b/ });
    roles.push({
      name: `compute-${host}`,
      args: [
        'compute',
        '--host',
        host,
        '--driver',
        o.driver,
        '--data',
        join(o.data, 'hosts', host),
        '--volume-dir',
        join(o.data, 'volumes'),
        // The built-in guest image never answers ACPI: a clean shutdown would wait the full minute.
        ...(o.driver === 'libvirt'
          ? ['--libvirt-uri', privateUri(libvirtRoot), '--shutdown-timeout', String(UP_SHUTDOWN_TIMEOUT_S)]
          : []),
        ...(o.cpuRatio !== undefined ? ['--cpu-ratio', String(o.cpuRatio)] : []),
        ...common,
        ...stores,
        ...creds(`host-${host}`),
      ],
      ready: /\bready\b/,
    });
  }
  return roles;
}
