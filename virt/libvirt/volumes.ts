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

/** The volumes a domain's XML holds: volume id → novactor's device (`vdX`). */
export function volumesIn(xml: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const disk of xml.match(/<disk\b[\s\S]*?<\/disk>/g) ?? []) {
    const alias = /<alias name='ua-vol-([A-Za-z0-9_-]+)'\/>/.exec(disk)?.[1];
    const dev = /<target dev='sd([a-z]{1,2})'/.exec(disk)?.[1];
    if (alias && dev) out[alias] = `vd${dev}`;
  }
  return out;
}
