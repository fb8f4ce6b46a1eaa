;; Square integer matrix product C = A × B, wrapping 32-bit arithmetic.
;; Input: n (u32 LE), then A and B, each n*n i32 LE, row-major. Output: C, n*n i32 LE, row-major.
;; An input whose length is not 4 + 8*n*n traps (unreachable).
(module
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 0))
  ;; Reserve len bytes at the current end of the heap, growing memory as needed.
  (func $reserve (param $len i32) (result i32)
    (local $at i32) (local $need i32)
    (local.set $at (global.get $heap))
    (global.set $heap (i32.and (i32.add (i32.add (local.get $at) (local.get $len)) (i32.const 7)) (i32.const -8)))
    (local.set $need (i32.shr_u (i32.add (global.get $heap) (i32.const 65535)) (i32.const 16)))
    (if (i32.gt_u (local.get $need) (memory.size))
      (then (if (i32.eq (memory.grow (i32.sub (local.get $need) (memory.size))) (i32.const -1)) (then unreachable))))
    (local.get $at))
  (func (export "alloc") (param $len i32) (result i32) (call $reserve (local.get $len)))
  (func (export "run") (param $ptr i32) (param $len i32) (result i64)
    (local $n i32) (local $a i32) (local $b i32) (local $c i32) (local $i i32) (local $j i32) (local $k i32) (local $sum i32)
    (if (i32.lt_u (local.get $len) (i32.const 4)) (then unreachable))
    (local.set $n (i32.load (local.get $ptr)))
    (if (i32.gt_u (local.get $n) (i32.const 4096)) (then unreachable))
    (if (i32.ne (local.get $len) (i32.add (i32.const 4) (i32.mul (i32.const 8) (i32.mul (local.get $n) (local.get $n))))) (then unreachable))
    (local.set $a (i32.add (local.get $ptr) (i32.const 4)))
    (local.set $b (i32.add (local.get $a) (i32.mul (i32.const 4) (i32.mul (local.get $n) (local.get $n)))))
    (local.set $c (call $reserve (i32.mul (i32.const 4) (i32.mul (local.get $n) (local.get $n)))))
    (local.set $i (i32.const 0))
    (block $iDone (loop $iNext
      (br_if $iDone (i32.ge_u (local.get $i) (local.get $n)))
      (local.set $j (i32.const 0))
      (block $jDone (loop $jNext
        (br_if $jDone (i32.ge_u (local.get $j) (local.get $n)))
        (local.set $sum (i32.const 0))
        (local.set $k (i32.const 0))
        (block $kDone (loop $kNext
          (br_if $kDone (i32.ge_u (local.get $k) (local.get $n)))
          (local.set $sum (i32.add (local.get $sum)
            (i32.mul
              (i32.load (i32.add (local.get $a) (i32.shl (i32.add (i32.mul (local.get $i) (local.get $n)) (local.get $k)) (i32.const 2))))
              (i32.load (i32.add (local.get $b) (i32.shl (i32.add (i32.mul (local.get $k) (local.get $n)) (local.get $j)) (i32.const 2)))))))
          (local.set $k (i32.add (local.get $k) (i32.const 1)))
          (br $kNext)))
        (i32.store (i32.add (local.get $c) (i32.shl (i32.add (i32.mul (local.get $i) (local.get $n)) (local.get $j)) (i32.const 2))) (local.get $sum))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $jNext)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $iNext)))
    (i64.or (i64.shl (i64.extend_i32_u (local.get $c)) (i64.const 32))
            (i64.extend_i32_u (i32.mul (i32.const 4) (i32.mul (local.get $n) (local.get $n))))))
)
