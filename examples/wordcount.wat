;; Word count: the number of maximal runs of non-whitespace bytes (whitespace: space, \t, \n, \v, \f, \r),
;; and the number of lines (\n bytes). Output: 8 bytes, words then lines, each u32 little-endian.
(module
  (memory (export "memory") 1)
  (func (export "alloc") (param $len i32) (result i32)
    (local $need i32)
    (local.set $need (i32.shr_u (i32.add (i32.add (local.get $len) (i32.const 1024)) (i32.const 65535)) (i32.const 16)))
    (if (i32.gt_u (local.get $need) (memory.size))
      (then (if (i32.eq (memory.grow (i32.sub (local.get $need) (memory.size))) (i32.const -1)) (then unreachable))))
    (i32.const 1024))
  (func $isSpace (param $c i32) (result i32)
    (i32.or (i32.eq (local.get $c) (i32.const 32))
            (i32.and (i32.ge_u (local.get $c) (i32.const 9)) (i32.le_u (local.get $c) (i32.const 13)))))
  (func (export "run") (param $ptr i32) (param $len i32) (result i64)
    (local $i i32) (local $c i32) (local $inWord i32) (local $words i32) (local $lines i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
        (local.set $c (i32.load8_u (i32.add (local.get $ptr) (local.get $i))))
        (if (i32.eq (local.get $c) (i32.const 10)) (then (local.set $lines (i32.add (local.get $lines) (i32.const 1)))))
        (if (call $isSpace (local.get $c))
          (then (local.set $inWord (i32.const 0)))
          (else
            (if (i32.eqz (local.get $inWord))
              (then (local.set $words (i32.add (local.get $words) (i32.const 1)))))
            (local.set $inWord (i32.const 1))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (i32.store (i32.const 0) (local.get $words))
    (i32.store (i32.const 4) (local.get $lines))
    (i64.const 8))
)
