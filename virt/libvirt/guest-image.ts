/**
 * The tiny bootable image novactor ships, so a cloud on the libvirt driver boots something real
 * with no download: a 1 MiB raw disk whose boot sector prints, on the first serial port,
 * `<banner><id> up` — the id read from the first sector of the second BIOS disk, the instance's
 * config drive (configDrive below) — and then halts. The same code with another banner is the
 * rescue image. Hand-assembled 16-bit x86 (no assembler needed at build time); each instruction
 * is written next to its bytes.
 */

/** Sector size, and the size of the whole base image. */
const SECTOR = 512;
export const BASE_IMAGE_BYTES = 1024 * 1024;

/** What a guest prints after the id once it is up (tests and `console-log` readers look for it). */
export const GUEST_UP = ' up';

/** Where the BIOS loads a boot sector, and where it reads the config drive's sector. */
const ORIGIN = 0x7c00;
const BUFFER = 0x8000;

type Piece = number[] | { label: string } | { rel16: string } | { rel8: string } | { abs16: string };

function assemble(pieces: Piece[], data: Record<string, number[]>): Uint8Array {
  const code: number[] = [];
  const labels = new Map<string, number>();
  const fixups: Array<{ at: number; label: string; kind: 'rel16' | 'rel8' | 'abs16' }> = [];
  for (const p of pieces) {
    if (Array.isArray(p)) code.push(...p);
    else if ('label' in p) labels.set(p.label, code.length);
    else {
      const kind = 'rel16' in p ? 'rel16' : 'rel8' in p ? 'rel8' : 'abs16';
      const label = 'rel16' in p ? p.rel16 : 'rel8' in p ? p.rel8 : p.abs16;
      fixups.push({ at: code.length, label, kind });
      code.push(...(kind === 'rel8' ? [0] : [0, 0]));
    }
  }
  for (const [name, bytes] of Object.entries(data)) {
    labels.set(name, code.length);
    code.push(...bytes);
  }
  for (const f of fixups) {
    const target = labels.get(f.label);
    if (target === undefined) throw new Error(`boot sector: no label ${f.label}`);
    if (f.kind === 'abs16') {
      const v = ORIGIN + target;
      code[f.at] = v & 0xff;
      code[f.at + 1] = v >> 8;
    } else if (f.kind === 'rel16') {
      const v = (target - (f.at + 2)) & 0xffff;
      code[f.at] = v & 0xff;
      code[f.at + 1] = v >> 8;
    } else {
      const v = target - (f.at + 1);
      if (v < -128 || v > 127) throw new Error(`boot sector: ${f.label} out of reach`);
      code[f.at] = v & 0xff;
    }
  }
  if (code.length > SECTOR - 2) throw new Error(`boot sector: ${code.length} bytes do not fit`);
  const sector = new Uint8Array(SECTOR);
  sector.set(code);
  sector[SECTOR - 2] = 0x55; // the BIOS boots a sector only with this signature
  sector[SECTOR - 1] = 0xaa;
  return sector;
}

const ascii = (s: string) => [...Buffer.from(s, 'latin1'), 0];

/** The boot sector: prints `<banner><id> up\r\n` on COM1 and halts. */
export function bootSector(banner: string): Uint8Array {
  if (!/^[ -~]{1,64}$/.test(banner)) throw new Error('boot sector banner: 1-64 printable ASCII characters');
  return assemble(
    [
      [0xfa], //                      cli
      [0x31, 0xc0], //                xor ax, ax
      [0x8e, 0xd8], //                mov ds, ax
      [0x8e, 0xc0], //                mov es, ax
      [0x8e, 0xd0], //                mov ss, ax
      [0xbc, 0x00, 0x7c], //          mov sp, 0x7c00
      [0xfb], //                      sti
      [0xbe],
      { abs16: 'banner' }, // mov si, banner
      [0xe8],
      { rel16: 'print' }, //  call print
      [0xb8, 0x01, 0x02], //          mov ax, 0x0201   ; read one sector
      [0xb9, 0x01, 0x00], //          mov cx, 0x0001   ; cylinder 0, sector 1
      [0xba, 0x81, 0x00], //          mov dx, 0x0081   ; head 0, the second BIOS disk
      [0xbb, BUFFER & 0xff, BUFFER >> 8], // mov bx, BUFFER
      [0xcd, 0x13], //                int 0x13
      [0x72],
      { rel8: 'tail' }, //    jc tail          ; no config drive: no id
      [0xc6, 0x06, 0xff, (BUFFER >> 8) + 1, 0x00], // mov byte [BUFFER+511], 0
      [0xbe, BUFFER & 0xff, BUFFER >> 8], // mov si, BUFFER
      [0xe8],
      { rel16: 'print' }, //  call print
      { label: 'tail' },
      [0xbe],
      { abs16: 'up' }, //     mov si, up
      [0xe8],
      { rel16: 'print' }, //  call print
      { label: 'halt' },
      [0xf4], //                      hlt
      [0xeb, 0xfd], //                jmp halt
      { label: 'print' }, //          ; prints the zero-terminated string at si on COM1
      [0xba, 0xf8, 0x03], //          mov dx, 0x3f8
      { label: 'next' },
      [0xac], //                      lodsb
      [0x84, 0xc0], //                test al, al
      [0x74, 0x03], //                jz done
      [0xee], //                      out dx, al
      [0xeb, 0xf8], //                jmp next
      [0xc3], //                      done: ret
    ],
    { banner: ascii(banner), up: ascii(`${GUEST_UP}\r\n`) },
  );
}

/** A whole raw base image: the boot sector, then zeros. */
export function baseImage(banner: string): Uint8Array {
  const disk = new Uint8Array(BASE_IMAGE_BYTES);
  disk.set(bootSector(banner));
  return disk;
}

/** The config drive's bytes: the instance id, zero-terminated, in a 64 KiB raw disk. */
export const CONFIG_DRIVE_BYTES = 64 * 1024;
export function configDrive(instanceId: string): Uint8Array {
  if (instanceId.length > SECTOR - 1) throw new Error('config drive: id longer than a sector');
  const disk = new Uint8Array(CONFIG_DRIVE_BYTES);
  disk.set(Buffer.from(instanceId, 'latin1'));
  return disk;
}
