/**
 * The libvirt domain of a guest, built from its spec and read back (pure: no I/O). The
 * domain's name is the instance id, its UUID the instance id when that is a UUID (else one
 * derived from it), and its metadata carries the spec and whether it is rescued, so a driver
 * can rebuild every GuestInfo from libvirt alone after a restart.
 */
import { createHash } from 'node:crypto';
import type { GuestNic, GuestSpec } from '../driver.js';
import { bridgeName, tapName } from './bridges.js';
import { volumeAlias } from './volumes.js';

/** The metadata element's namespace (libvirt keeps one element per namespace). */
export const METADATA_NS = 'https://novactor.dev/xmlns/guest/1';

export interface DomainDesign {
  readonly spec: GuestSpec;
  /** `kvm` where /dev/kvm exists, else `qemu` (TCG). */
  readonly type: 'kvm' | 'qemu';
  readonly emulator: string;
  /** The instance's root disk: a qcow2 overlay on a base image, or its root volume's file. */
  readonly disk: RootDisk;
  /** A small raw disk holding the instance id (the guest prints it). */
  readonly configDrive: string;
  /** Where the first serial port writes. */
  readonly consoleLog: string;
  /** Rescued: the rescue image boots first, the instance's disk is attached after it. */
  readonly rescueDisk?: string | undefined;
  /** Hot-plugged volumes' `<disk>` elements, kept as the definition had them (a redefinition). */
  readonly volumeDisks?: readonly string[];
}

/** A root disk's file and format; `volumeId` when it is the instance's root volume. */
export interface RootDisk {
  readonly file: string;
  readonly format: 'qcow2' | 'raw';
  readonly volumeId?: string | undefined;
}

/** One interface of the guest: the port's MAC, a tap on its network's bridge (virt/libvirt/bridges.ts). */
export function interfaceXml(host: string, nic: GuestNic): string {
  return (
    `    <interface type='bridge'><mac address='${esc(nic.mac)}'/><source bridge='${bridgeName(nic.network)}'/>` +
    `<target dev='${tapName(host, nic.portId)}'/><model type='virtio'/></interface>`
  );
}

/** What the metadata holds. */
export interface DomainMeta {
  readonly spec: GuestSpec;
  readonly rescued: boolean;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The domain UUID of an instance: its id when that is a UUID, else a name-based one. */
export function domainUuid(instanceId: string): string {
  if (UUID.test(instanceId)) return instanceId.toLowerCase();
  const h = createHash('sha1').update(`novactor:${instanceId}`).digest('hex');
  // RFC 4122 version 5 layout (name-based, SHA-1).
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

const esc = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');

const encodeMeta = (m: DomainMeta) => Buffer.from(JSON.stringify(m), 'utf8').toString('base64');

// A root volume carries its volume's alias (virt/libvirt/volumes.ts), so the domain lists it as `vda`.
const disk = (file: string, format: 'qcow2' | 'raw', dev: string, volumeId?: string) =>
  `    <disk type='file' device='disk'><driver name='qemu' type='${format}'/><source file='${esc(file)}'/>` +
  `<target dev='${dev}' bus='ide'/>${volumeId ? `<alias name='${volumeAlias(volumeId)}'/>` : ''}</disk>`;

/**
 * The domain XML. IDE disks so that the BIOS sees them in order: the boot disk first, the
 * config drive second (the guest reads its id there), the instance disk third when rescued.
 */
export function domainXml(d: DomainDesign): string {
  const { spec } = d;
  const root = (dev: string) => disk(d.disk.file, d.disk.format, dev, d.disk.volumeId);
  const disks = d.rescueDisk
    ? [disk(d.rescueDisk, 'raw', 'hda'), disk(d.configDrive, 'raw', 'hdb'), root('hdc')]
    : [root('hda'), disk(d.configDrive, 'raw', 'hdb')];
  return [
    `<domain type='${d.type}'>`,
    `  <name>${esc(spec.instanceId)}</name>`,
    `  <uuid>${domainUuid(spec.instanceId)}</uuid>`,
    `  <title>${esc(spec.name)}</title>`,
    `  <metadata><nv:guest xmlns:nv='${METADATA_NS}'>${encodeMeta({ spec, rescued: !!d.rescueDisk })}</nv:guest></metadata>`,
    `  <memory unit='MiB'>${spec.flavor.memoryMb}</memory>`,
    `  <vcpu>${spec.flavor.vcpus}</vcpu>`,
    `  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>`,
    `  <features><acpi/></features>`,
    // A guest that stops by itself (or crashes) stays down: the instance actor decides what next.
    `  <on_poweroff>destroy</on_poweroff><on_reboot>restart</on_reboot><on_crash>destroy</on_crash>`,
    `  <devices>`,
    `    <emulator>${esc(d.emulator)}</emulator>`,
    ...disks,
    ...(d.volumeDisks ?? []).map((x) => `    ${x}`),
    // A USB controller with room: volumes and plugged interfaces go on USB (QEMU unplugs them alone).
    `    <controller type='usb' index='0' model='qemu-xhci' ports='15'/>`,
    ...(spec.nics ?? []).map((n) => interfaceXml(spec.host, n)),
    `    <serial type='file'><source path='${esc(d.consoleLog)}' append='on'/><target port='0'/></serial>`,
    `    <video><model type='none'/></video>`,
    `    <memballoon model='none'/>`,
    `  </devices>`,
    `</domain>`,
    '',
  ].join('\n');
}

/** The metadata of a domain's XML, or undefined for a domain novactor did not define. */
export function readMeta(xml: string): DomainMeta | undefined {
  const m = /<(\w+:)?guest\s+xmlns(?::\w+)?=["']([^"']+)["']\s*>([A-Za-z0-9+/=\s]+)<\/(\w+:)?guest>/.exec(xml);
  if (!m || m[2] !== METADATA_NS) return undefined;
  try {
    const v = JSON.parse(Buffer.from(m[3]!.replace(/\s/g, ''), 'base64').toString('utf8')) as Partial<DomainMeta>;
    if (!v.spec || typeof v.spec.instanceId !== 'string' || typeof v.spec.host !== 'string') return undefined;
    return { spec: v.spec, rescued: v.rescued === true };
  } catch {
    return undefined;
  }
}
