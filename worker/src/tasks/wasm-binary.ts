/**
 * The little of the WebAssembly binary format the sandbox needs before compiling a module: walk the
 * sections, find the memory the module defines, and rewrite that memory's maximum to the sandbox's page
 * cap. Pure functions over bytes; the engine's own validation still runs afterwards (in the sandbox thread).
 *
 * Why rewrite instead of refuse: a module compiled without a maximum (the usual output of compilers) may grow
 * its memory as far as the engine allows (4 GiB), and `memory.grow` cannot be intercepted from the host. With
 * the maximum lowered to the cap, `memory.grow` past the cap returns -1 inside the module, exactly as on a
 * machine without more memory, and every honest node sees the same -1: the result stays deterministic.
 */
import { InvalidModuleError, SandboxMemoryLimitError } from "../errors.ts";

/** Bytes in one WebAssembly page. */
export const WASM_PAGE_BYTES = 65_536;

const MAGIC_AND_VERSION = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
const MEMORY_SECTION = 5;

/** One section: its id and where its content lies in the binary. */
export interface WasmSection {
  id: number;
  /** Offset of the section id byte. */
  start: number;
  /** Offset of the first content byte. */
  contentStart: number;
  /** Offset just past the content. */
  end: number;
}

interface Leb {
  value: number;
  next: number;
}

function readU32(bytes: Uint8Array, offset: number): Leb {
  let value = 0;
  let shift = 0;
  for (let i = 0; i < 5; i++) {
    const at = offset + i;
    if (at >= bytes.length) throw new InvalidModuleError("truncated module", { details: `LEB128 runs past the end at byte ${offset}` });
    const byte = bytes[at]!;
    value += (byte & 0x7f) * 2 ** shift;
    shift += 7;
    if ((byte & 0x80) === 0) {
      if (value > 0xffff_ffff) throw new InvalidModuleError("malformed module", { details: `u32 out of range at byte ${offset}` });
      return { value, next: at + 1 };
    }
  }
  throw new InvalidModuleError("malformed module", { details: `LEB128 longer than 5 bytes at byte ${offset}` });
}

function writeU32(value: number): number[] {
  const out: number[] = [];
  let v = value;
  do {
    let byte = v & 0x7f;
    v = Math.floor(v / 128);
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
  return out;
}

/**
 * The sections of a module, in order.
 * @throws {InvalidModuleError} on a wrong header or a section that runs past the end.
 */
export function readSections(bytes: Uint8Array): WasmSection[] {
  if (bytes.length < 8 || MAGIC_AND_VERSION.some((b, i) => bytes[i] !== b)) {
    throw new InvalidModuleError("not a WebAssembly module", { details: "expected the magic \\0asm and version 1" });
  }
  const sections: WasmSection[] = [];
  let offset = 8;
  while (offset < bytes.length) {
    const id = bytes[offset]!;
    const size = readU32(bytes, offset + 1);
    const end = size.next + size.value;
    if (end > bytes.length) throw new InvalidModuleError("truncated module", { details: `section ${id} at byte ${offset} runs past the end` });
    sections.push({ id, start: offset, contentStart: size.next, end });
    offset = end;
  }
  return sections;
}

/** Limits of the memory a module defines (pages); `max` undefined when it declares none. */
export interface MemoryLimits {
  min: number;
  max: number | undefined;
}

/**
 * Returns a copy of `bytes` whose defined memory has `max = min(declared max, maxPages)`, and the limits as
 * they were declared (`undefined` when the module defines no memory; imported memories are caught as imports).
 * @throws {InvalidModuleError} for more than one memory, a shared or 64-bit memory, or a malformed section.
 * @throws {SandboxMemoryLimitError} when the memory's minimum alone is over `maxPages`.
 */
export function capMemory(bytes: Uint8Array, maxPages: number): { bytes: Uint8Array; declared: MemoryLimits | undefined } {
  const sections = readSections(bytes);
  const memory = sections.find((s) => s.id === MEMORY_SECTION);
  if (memory === undefined) return { bytes, declared: undefined };
  const count = readU32(bytes, memory.contentStart);
  if (count.value === 0) return { bytes, declared: undefined };
  if (count.value > 1) throw new InvalidModuleError("module defines more than one memory");
  const flags = bytes[count.next];
  if (flags === undefined) throw new InvalidModuleError("truncated memory section");
  if ((flags & ~0x01) !== 0) {
    throw new InvalidModuleError("unsupported memory type", { details: `flags 0x${flags.toString(16)}: shared and 64-bit memories are not allowed` });
  }
  const min = readU32(bytes, count.next + 1);
  const max = (flags & 0x01) !== 0 ? readU32(bytes, min.next) : undefined;
  const limitsEnd = max?.next ?? min.next;
  if (limitsEnd !== memory.end) throw new InvalidModuleError("malformed memory section", { details: "trailing bytes after the memory type" });
  const declared = { min: min.value, max: max?.value };
  if (declared.min > maxPages) {
    throw new SandboxMemoryLimitError(`module needs ${declared.min} pages of memory at start; the cap is ${maxPages}`);
  }
  const newMax = Math.min(declared.max ?? maxPages, maxPages);
  const content = [...writeU32(1), 0x01, ...writeU32(declared.min), ...writeU32(newMax)];
  const section = [MEMORY_SECTION, ...writeU32(content.length), ...content];
  const out = new Uint8Array(bytes.length - (memory.end - memory.start) + section.length);
  out.set(bytes.subarray(0, memory.start), 0);
  out.set(section, memory.start);
  out.set(bytes.subarray(memory.end), memory.start + section.length);
  return { bytes: out, declared };
}
