;; The snapshot parser's hot loop in WebAssembly: decimal digits to u32s.
;; scan(p, end, out) reads bytes [p, end), writes each number ending in it as a u32 from
;; `out` on, and returns how many it wrote. A number cut by `end` carries over in the globals
;; cur/inNum. A byte that is neither a digit nor a separator (, \n space \r \t) stops it
;; with `bad` = that byte's position + 1 (0 when all was read).
;; Built into scan-wasm.ts: wat2wasm src/snapshot/scan.wat --output=- | base64 -w0
(module
  (memory (export "memory") 49)
  (global $cur (export "cur") (mut i32) (i32.const 0))
  (global $inNum (export "inNum") (mut i32) (i32.const 0))
  (global $bad (export "bad") (mut i32) (i32.const 0))
  (func (export "scan") (param $p i32) (param $end i32) (param $out i32) (result i32)
    (local $d i32) (local $cur i32) (local $in i32) (local $o i32)
    (local.set $cur (global.get $cur))
    (local.set $in (global.get $inNum))
    (local.set $o (local.get $out))
    (global.set $bad (i32.const 0))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $d (i32.sub (i32.load8_u (local.get $p)) (i32.const 48)))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (if (i32.lt_u (local.get $d) (i32.const 10))
          (then
            (local.set $cur (i32.add (i32.mul (local.get $cur) (i32.const 10)) (local.get $d)))
            (local.set $in (i32.const 1))
            (br $next)))
        (if (local.get $in)
          (then
            (i32.store (local.get $o) (local.get $cur))
            (local.set $o (i32.add (local.get $o) (i32.const 4)))
            (local.set $cur (i32.const 0))
            (local.set $in (i32.const 0))))
        (br_if $next (i32.eq (local.get $d) (i32.const -4)))
        (br_if $next (i32.eq (local.get $d) (i32.const -38)))
        (br_if $next (i32.eq (local.get $d) (i32.const -16)))
        (br_if $next (i32.eq (local.get $d) (i32.const -35)))
        (br_if $next (i32.eq (local.get $d) (i32.const -39)))
        (global.set $bad (local.get $p))
        (br $done)))
    (global.set $cur (local.get $cur))
    (global.set $inNum (local.get $in))
    (i32.shr_u (i32.sub (local.get $o) (local.get $out)) (i32.const 2))))
