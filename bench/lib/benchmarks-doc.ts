/**
 * Writes one benchmark's section into docs/benchmarks.md (or another file): replaces the section under
 * `heading` up to the next `## ` heading, keeping the hand-written text after its `<!-- interpretation -->`
 * marker, or appends the section when the file has none yet.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";

const MARKER = "<!-- interpretation -->";
const HEADER = "# Benchmarks\n\nLatest results of the benchmarks in `bench/` (see bench/README.md), each with the command that produced it.\n";

/** `section` starts with `heading` and contains the marker line followed by a newline. */
export function writeBenchmarkSection(file: string, heading: string, section: string): void {
  let doc = existsSync(file) ? readFileSync(file, "utf8") : HEADER;
  const at = doc.indexOf(`${heading}\n`);
  if (at >= 0) {
    const next = doc.indexOf("\n## ", at + heading.length);
    const note = doc.slice(at, next < 0 ? undefined : next + 1).split(MARKER)[1];
    doc = doc.slice(0, at) + section.replace(`${MARKER}\n`, `${MARKER}${note?.trimEnd() ?? ""}\n`) + (next < 0 ? "" : doc.slice(next + 1));
  } else {
    doc = `${doc.trimEnd()}\n\n${section}`;
  }
  writeFileSync(file, doc);
}
