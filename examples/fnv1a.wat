;; FNV-1a, 64-bit, over the whole input. Output: the 8-byte hash, little-endian.
;; ABI (docs/tasks.md): exports memory, alloc(len) -> ptr, run(ptr, len) -> (outPtr << 32 | outLen).
(module
  (memory (export "memory") 1)
  ;; Bump allocator: the input goes at 1024, so [0, 1024) is free for the output.
  (func (export "alloc") (param $len i32) (result i32)
    (local $need i32)
    ;; pages needed for 1024 + len bytes
    (local.set $need (i32.shr_u (i32.add (i32.add (local.get $len) (i32.const 1024)) (i32.const 65535)) (i32.const 16)))
    (if (i32.gt_u (local.get $need) (memory.size))
      (then (if (i32.eq (memory.grow (i32.sub (local.get $need) (memory.size))) (i32.const -1)) (then unreachable))))
    (i32.const 1024))
  (func (export "run") (param $ptr i32) (param $len i32) (result i64)
    (local $h i64) (local $i i32)
    (local.set $h (i64.const 0xcbf29ce484222325))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
        (local.set $h (i64.xor (local.get $h) (i64.load8_u (i32.add (local.get $ptr) (local.get $i)))))
        (local.set $h (i64.mul (local.get $h) (i64.const 0x100000001b3)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (i64.store (i32.const 0) (local.get $h))
    ;; output at pointer 0, length 8
    (i64.const 8))
)
