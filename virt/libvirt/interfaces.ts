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
import { VirtError, VirtErrorCode } from '../errors.js';
import { bridgeName, tapName } from './bridges.js';

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/'/g, '&apos;');

/** The `<interface>` element a plug attaches: a tap on the network's bridge, on USB port `port`. */
export function pluggedInterfaceXml(host: string, nic: GuestNic, port: number): string {
  return usbInterfaceXml({ mac: nic.mac, bridge: bridgeName(nic.network), tap: tapName(host, nic.portId), port });
}

/** A plugged interface as a domain's XML has it: its MAC, bridge, tap and USB port. */
export interface PluggedInterface {
  readonly mac: string;
  readonly bridge: string;
  readonly tap: string;
  readonly port: number;
}

/** The `<interface>` element of a USB NIC. */
export function usbInterfaceXml(p: PluggedInterface): string {
  return (
    `<interface type='bridge'><mac address='${esc(p.mac)}'/><source bridge='${esc(p.bridge)}'/>` +
    `<target dev='${esc(p.tap)}'/><model type='usb-net'/>` +
    `<address type='usb' bus='0' port='${p.port}'/></interface>`
  );
}

const interfaceElements = (xml: string): string[] => xml.match(/<interface\b[\s\S]*?<\/interface>/g) ?? [];
const macOf = (element: string) => /<mac address='([^']+)'\/>/.exec(element)?.[1];
const tapOf = (element: string) => /<target dev='([^']+)'\/>/.exec(element)?.[1];
const bridgeOf = (element: string) => /<source bridge='([^']+)'\/>/.exec(element)?.[1];

/**
 * The interfaces of a domain's XML plugged since its boot (USB NICs), with the USB port each is
 * on. QEMU cannot migrate a usb-net device ("non-migratable device"): a live migration unplugs
 * them for its copy and plugs them again where the guest then runs (docs/networks.md).
 */
export function pluggedInterfaces(xml: string): PluggedInterface[] {
  const out: PluggedInterface[] = [];
  for (const element of interfaceElements(xml)) {
    if (!element.includes("<model type='usb-net'/>")) continue;
    const port = /<address type='usb' bus='0' port='(\d+)'\/>/.exec(element)?.[1];
    const [mac, bridge, tap] = [macOf(element), bridgeOf(element), tapOf(element)];
    if (mac && bridge && tap && port) out.push({ mac, bridge, tap, port: Number(port) });
  }
  return out;
}

/**
 * A live migration's two domains for its destination, from the one the destination prepared
 * (every port of the instance, as virtio NICs on its own bridges and taps): the running guest's
 * without the interfaces `plugged` on the source (unplugged for the copy: libvirt refuses a
 * destination whose devices differ from the running guest's), and the definition's with them
 * as USB NICs on the ports they had, which the destination plugs again live once the guest runs
 * there. A plugged interface the destination did not prepare (a port it was not told of) is
 * refused: its bridge and tap there are unknown.
 */
export function carriedInterfaces(
  domainXml: string,
  plugged: readonly PluggedInterface[],
): { readonly live: string; readonly persistent: string } {
  let live = domainXml;
  let persistent = domainXml;
  for (const p of plugged) {
    const element = interfaceElements(domainXml).find((e) => macOf(e) === p.mac);
    const [bridge, tap] = element ? [bridgeOf(element), tapOf(element)] : [];
    if (!element || !bridge || !tap)
      throw new VirtError(
        VirtErrorCode.InvalidState,
        `the interface ${p.mac} plugged into the guest is not one its destination was prepared for: ` +
          'detach it first, or migrate the instance again once its ports are known there',
      );
    live = live.replace(element, ''); // its line stays, blank
    persistent = persistent.replace(element, usbInterfaceXml({ mac: p.mac, bridge, tap, port: p.port }));
  }
  return { live, persistent };
}

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
