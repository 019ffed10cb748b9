/**
 * Volumes under libvirt (docs/volumes.md): a volume is its file, hot-plugged into the domain as a
 * disk on the USB bus, whose unplug QEMU completes without the guest's consent (a virtio disk's
 * waits for the guest to acknowledge an ACPI eject, which the built-in guest never does). Each
 * disk carries the user alias `ua-vol-<volume id>`, which names it in the domain's XML, live and
 * persistent, so an attach or detach can tell whether it is already done.
 */
import { VirtError, VirtErrorCode } from '../errors.js';
import type { VolumeConnection } from '../driver.js';

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/'/g, '&apos;');

export const volumeAlias = (volumeId: string): string => `ua-vol-${volumeId}`;

/** The guest's device name on the USB bus for novactor's `vdX` (the records keep `vdX`). */
const usbDev = (device: string) => `sd${device.slice(2)}`;

/** The `<disk>` element of a volume. */
export function volumeDiskXml(v: VolumeConnection): string {
  if (!/^[A-Za-z0-9_-]{1,128}$/.test(v.volumeId) || !/^vd[a-z]{1,2}$/.test(v.device))
    throw new VirtError(VirtErrorCode.InvalidSpec, `bad volume ${v.volumeId} on ${v.device}`);
  return (
    `<disk type='file' device='disk'><driver name='qemu' type='${v.format}'/>` +
    `<source file='${esc(v.path)}'/><target dev='${usbDev(v.device)}' bus='usb'/>` +
    `<alias name='${volumeAlias(v.volumeId)}'/></disk>`
  );
}

/** Each volume's `<disk>` element in a domain's XML: its volume id and its target's bus letters (`sd`, `hd`). */
function volumeDisks(xml: string): Array<{ element: string; volumeId: string; bus: string; letters: string }> {
  const out = [];
  for (const element of xml.match(/<disk\b[\s\S]*?<\/disk>/g) ?? []) {
    const volumeId = /<alias name='ua-vol-([A-Za-z0-9_-]+)'\/>/.exec(element)?.[1];
    const target = /<target dev='(sd|hd)([a-z]{1,2})'/.exec(element);
    if (volumeId && target) out.push({ element, volumeId, bus: target[1]!, letters: target[2]! });
  }
  return out;
}

/**
 * The `<disk>` elements of the hot-plugged volumes (USB, not the root) in a domain's XML, as
 * input again: without the `index` libvirt numbers a running guest's sources with.
 */
export function hotPluggedDisks(xml: string): string[] {
  return volumeDisks(xml)
    .filter((d) => d.bus === 'sd')
    .map((d) => d.element.replace(/ index='\d+'/g, ''));
}

/**
 * A domain's XML with `disks` added to its devices: a live migration's destination domain gets
 * the source's hot-plugged volumes, at the same USB addresses (libvirt refuses a destination
 * whose devices differ from the running guest's).
 */
export function withDisks(domainXml: string, disks: readonly string[]): string {
  if (disks.length === 0) return domainXml;
  const at = domainXml.lastIndexOf('</devices>');
  if (at < 0) throw new VirtError(VirtErrorCode.InvalidSpec, 'a domain without devices');
  return `${domainXml.slice(0, at)}${disks.map((d) => `  ${d}\n`).join('')}  ${domainXml.slice(at)}`;
}

/**
 * The volumes a domain's XML holds: volume id → novactor's device (`vdX`). A root volume is the
 * domain's boot disk on IDE (domain-xml.ts): `vda`, whichever IDE slot a rescue put it in.
 */
export function volumesIn(xml: string): Record<string, string> {
  return Object.fromEntries(volumeDisks(xml).map((d) => [d.volumeId, d.bus === 'hd' ? 'vda' : `vd${d.letters}`]));
}
