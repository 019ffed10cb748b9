/**
 * Interfaces plugged into a running guest under libvirt (docs/networks.md): the port's tap on its
 * network's bridge, hot-plugged as a USB network device (`usb-net`), whose unplug QEMU completes
 * without the guest's consent — a virtio NIC's waits for the guest to acknowledge an ACPI eject,
 * which the built-in guest never does (as for volumes, virt/libvirt/volumes.ts). The guest's
 * interfaces now (its spawn's and those plugged since) are kept in its instance directory
 * (`nics.json`): the domain's metadata holds its spec as defined, and a redefinition (rescue, a
 * resize here) is made from the list kept there.
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import type { GuestNic } from '../driver.js';
import { bridgeName, tapName } from './bridges.js';

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/'/g, '&apos;');

/** The `<interface>` element a plug attaches: a tap on the network's bridge, on USB port `port`. */
export function pluggedInterfaceXml(host: string, nic: GuestNic, port: number): string {
  return (
    `<interface type='bridge'><mac address='${esc(nic.mac)}'/><source bridge='${bridgeName(nic.network)}'/>` +
    `<target dev='${tapName(host, nic.portId)}'/><model type='usb-net'/>` +
    `<address type='usb' bus='0' port='${port}'/></interface>`
  );
}

/**
 * Whether a domain's XML has an interface plugged since its boot (a USB NIC): QEMU cannot migrate
 * a usb-net device ("non-migratable device"), so such a guest cannot be live-migrated.
 */
export const hasPluggedInterface = (xml: string): boolean => xml.includes("<model type='usb-net'/>");

/** USB ports of the controller (domain-xml.ts). */
export const USB_PORTS = 15;

/**
 * The lowest USB port no device of the domain's XML takes (libvirt leaves a usb-net's port to
 * the caller), undefined when all are taken.
 */
export function freeUsbPort(xml: string): number | undefined {
  const taken = new Set([...xml.matchAll(/<address type='usb' bus='0' port='(\d+)'\/>/g)].map((m) => Number(m[1])));
  for (let p = 1; p <= USB_PORTS; p++) if (!taken.has(p)) return p;
  return undefined;
}

/** Whether a domain's XML has an interface with this MAC. */
export const hasMac = (xml: string, mac: string): boolean => xml.includes(`<mac address='${mac}'/>`);

/** The interfaces kept for a guest, or undefined when none were kept (its spec's are all it has). */
export async function readNics(file: string): Promise<GuestNic[] | undefined> {
  const text = await readFile(file, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  const parsed: unknown = JSON.parse(text);
  return Array.isArray(parsed) ? (parsed as GuestNic[]) : undefined;
}

/** Keeps the guest's interfaces (written whole, then renamed: a crash leaves the old list or the new). */
export async function writeNics(file: string, nics: readonly GuestNic[]): Promise<void> {
  await writeFile(`${file}.tmp`, JSON.stringify(nics));
  await rename(`${file}.tmp`, file);
}
