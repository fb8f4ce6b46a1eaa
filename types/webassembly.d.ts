/**
 * The part of the WebAssembly JS API the task sandbox uses. Node has it at run time; TypeScript only
 * declares it in lib.dom, which this Node project does not load. Shapes copied from lib.dom.d.ts.
 */
declare namespace WebAssembly {
  type ImportExportKind = "function" | "global" | "memory" | "table" | "tag";
  interface ModuleImportDescriptor {
    kind: ImportExportKind;
    module: string;
    name: string;
  }
  interface ModuleExportDescriptor {
    kind: ImportExportKind;
    name: string;
  }
  class Module {
    constructor(bytes: BufferSource);
    static exports(moduleObject: Module): ModuleExportDescriptor[];
    static imports(moduleObject: Module): ModuleImportDescriptor[];
  }
  class Instance {
    constructor(module: Module, importObject?: Record<string, Record<string, unknown>>);
    readonly exports: Record<string, unknown>;
  }
  class Memory {
    readonly buffer: ArrayBuffer;
    grow(delta: number): number;
  }
  class RuntimeError extends Error {}
  class CompileError extends Error {}
  function validate(bytes: BufferSource): boolean;
}
