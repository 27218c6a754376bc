//! MD5 over several independent messages at once ("multi-buffer" MD5).
//!
//! One MD5 stream cannot go faster than its chain of dependent steps allows, but the
//! streams of concurrent uploads are independent: packed one per 32-bit lane of a
//! SIMD register, eight of them advance for little more than the price of one. This
//! module holds the compression kernels (eight lanes with AVX2 or AVX-512VL on
//! x86_64, chosen at run time; a portable scalar kernel everywhere) and [`Md5Stream`],
//! one message's state, which can move between the scalar and the lane kernels block by
//! block. The pool that gathers concurrent uploads into lanes is in `hash_pool`.

/// Messages hashed side by side by [`compress_lanes`].
pub const LANES: usize = 8;

const INIT: [u32; 4] = [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476];

/// The 64 MD5 steps, unrolled, with the registers renamed instead of rotated.
/// `$step!(function, a, b, c, d, message word, constant, shift)` computes
/// `a = b + ((a + function(b, c, d) + word + constant) <<< shift)`.
macro_rules! md5_steps {
    ($step:ident, $a:ident, $b:ident, $c:ident, $d:ident, $m:ident) => {
        $step!(F, $a, $b, $c, $d, $m[0], 0xd76aa478, 7);
        $step!(F, $d, $a, $b, $c, $m[1], 0xe8c7b756, 12);
        $step!(F, $c, $d, $a, $b, $m[2], 0x242070db, 17);
        $step!(F, $b, $c, $d, $a, $m[3], 0xc1bdceee, 22);
        $step!(F, $a, $b, $c, $d, $m[4], 0xf57c0faf, 7);
        $step!(F, $d, $a, $b, $c, $m[5], 0x4787c62a, 12);
        $step!(F, $c, $d, $a, $b, $m[6], 0xa8304613, 17);
        $step!(F, $b, $c, $d, $a, $m[7], 0xfd469501, 22);
        $step!(F, $a, $b, $c, $d, $m[8], 0x698098d8, 7);
        $step!(F, $d, $a, $b, $c, $m[9], 0x8b44f7af, 12);
        $step!(F, $c, $d, $a, $b, $m[10], 0xffff5bb1, 17);
        $step!(F, $b, $c, $d, $a, $m[11], 0x895cd7be, 22);
        $step!(F, $a, $b, $c, $d, $m[12], 0x6b901122, 7);
        $step!(F, $d, $a, $b, $c, $m[13], 0xfd987193, 12);
        $step!(F, $c, $d, $a, $b, $m[14], 0xa679438e, 17);
        $step!(F, $b, $c, $d, $a, $m[15], 0x49b40821, 22);
        $step!(G, $a, $b, $c, $d, $m[1], 0xf61e2562, 5);
        $step!(G, $d, $a, $b, $c, $m[6], 0xc040b340, 9);
        $step!(G, $c, $d, $a, $b, $m[11], 0x265e5a51, 14);
        $step!(G, $b, $c, $d, $a, $m[0], 0xe9b6c7aa, 20);
        $step!(G, $a, $b, $c, $d, $m[5], 0xd62f105d, 5);
        $step!(G, $d, $a, $b, $c, $m[10], 0x02441453, 9);
        $step!(G, $c, $d, $a, $b, $m[15], 0xd8a1e681, 14);
        $step!(G, $b, $c, $d, $a, $m[4], 0xe7d3fbc8, 20);
        $step!(G, $a, $b, $c, $d, $m[9], 0x21e1cde6, 5);
        $step!(G, $d, $a, $b, $c, $m[14], 0xc33707d6, 9);
        $step!(G, $c, $d, $a, $b, $m[3], 0xf4d50d87, 14);
        $step!(G, $b, $c, $d, $a, $m[8], 0x455a14ed, 20);
        $step!(G, $a, $b, $c, $d, $m[13], 0xa9e3e905, 5);
        $step!(G, $d, $a, $b, $c, $m[2], 0xfcefa3f8, 9);
        $step!(G, $c, $d, $a, $b, $m[7], 0x676f02d9, 14);
        $step!(G, $b, $c, $d, $a, $m[12], 0x8d2a4c8a, 20);
        $step!(H, $a, $b, $c, $d, $m[5], 0xfffa3942, 4);
        $step!(H, $d, $a, $b, $c, $m[8], 0x8771f681, 11);
        $step!(H, $c, $d, $a, $b, $m[11], 0x6d9d6122, 16);
        $step!(H, $b, $c, $d, $a, $m[14], 0xfde5380c, 23);
        $step!(H, $a, $b, $c, $d, $m[1], 0xa4beea44, 4);
        $step!(H, $d, $a, $b, $c, $m[4], 0x4bdecfa9, 11);
        $step!(H, $c, $d, $a, $b, $m[7], 0xf6bb4b60, 16);
        $step!(H, $b, $c, $d, $a, $m[10], 0xbebfbc70, 23);
        $step!(H, $a, $b, $c, $d, $m[13], 0x289b7ec6, 4);
        $step!(H, $d, $a, $b, $c, $m[0], 0xeaa127fa, 11);
        $step!(H, $c, $d, $a, $b, $m[3], 0xd4ef3085, 16);
        $step!(H, $b, $c, $d, $a, $m[6], 0x04881d05, 23);
        $step!(H, $a, $b, $c, $d, $m[9], 0xd9d4d039, 4);
        $step!(H, $d, $a, $b, $c, $m[12], 0xe6db99e5, 11);
        $step!(H, $c, $d, $a, $b, $m[15], 0x1fa27cf8, 16);
        $step!(H, $b, $c, $d, $a, $m[2], 0xc4ac5665, 23);
        $step!(I, $a, $b, $c, $d, $m[0], 0xf4292244, 6);
        $step!(I, $d, $a, $b, $c, $m[7], 0x432aff97, 10);
        $step!(I, $c, $d, $a, $b, $m[14], 0xab9423a7, 15);
        $step!(I, $b, $c, $d, $a, $m[5], 0xfc93a039, 21);
        $step!(I, $a, $b, $c, $d, $m[12], 0x655b59c3, 6);
        $step!(I, $d, $a, $b, $c, $m[3], 0x8f0ccc92, 10);
        $step!(I, $c, $d, $a, $b, $m[10], 0xffeff47d, 15);
        $step!(I, $b, $c, $d, $a, $m[1], 0x85845dd1, 21);
        $step!(I, $a, $b, $c, $d, $m[8], 0x6fa87e4f, 6);
        $step!(I, $d, $a, $b, $c, $m[15], 0xfe2ce6e0, 10);
        $step!(I, $c, $d, $a, $b, $m[6], 0xa3014314, 15);
        $step!(I, $b, $c, $d, $a, $m[13], 0x4e0811a1, 21);
        $step!(I, $a, $b, $c, $d, $m[4], 0xf7537e82, 6);
        $step!(I, $d, $a, $b, $c, $m[11], 0xbd3af235, 10);
        $step!(I, $c, $d, $a, $b, $m[2], 0x2ad7d2bb, 15);
        $step!(I, $b, $c, $d, $a, $m[9], 0xeb86d391, 21);
    };
}

/// One message's running MD5: the chaining value, the bytes of an unfinished block and
/// the length so far.
#[derive(Clone)]
pub struct Md5Stream {
    pub(crate) state: [u32; 4],
    pub(crate) tail: [u8; 64],
    pub(crate) tail_len: usize,
    pub(crate) len: u64,
}

impl Default for Md5Stream {
    fn default() -> Self {
        Self::new()
    }
}

impl Md5Stream {
    pub fn new() -> Self {
        Self {
            state: INIT,
            tail: [0; 64],
            tail_len: 0,
            len: 0,
        }
    }

    /// Hashes `data` on this thread, with the scalar kernel.
    pub fn update(&mut self, mut data: &[u8]) {
        self.len += data.len() as u64;
        if self.tail_len > 0 {
            let take = data.len().min(64 - self.tail_len);
            self.tail[self.tail_len..self.tail_len + take].copy_from_slice(&data[..take]);
            self.tail_len += take;
            data = &data[take..];
            if self.tail_len < 64 {
                return;
            }
            let block = self.tail;
            compress_scalar(&mut self.state, &block);
            self.tail_len = 0;
        }
        let whole = data.len() / 64 * 64;
        compress_scalar(&mut self.state, &data[..whole]);
        let rest = &data[whole..];
        self.tail[..rest.len()].copy_from_slice(rest);
        self.tail_len = rest.len();
    }

    pub fn finalize(mut self) -> [u8; 16] {
        let bits = self.len.wrapping_mul(8);
        let mut pad = [0u8; 72];
        pad[0] = 0x80;
        // Pad to 56 bytes past a block boundary, then the length in bits.
        let pad_len = if self.tail_len < 56 {
            56 - self.tail_len
        } else {
            120 - self.tail_len
        };
        let len = self.len;
        self.update(&pad[..pad_len]);
        self.update(&bits.to_le_bytes());
        debug_assert_eq!(self.tail_len, 0);
        self.len = len;
        let mut out = [0u8; 16];
        for (o, w) in out.chunks_exact_mut(4).zip(self.state) {
            o.copy_from_slice(&w.to_le_bytes());
        }
        out
    }
}

/// Runs the compression function over `blocks` (a whole number of 64-byte blocks).
/// On x86 this is md5-asm's (about 25% faster than the portable code here).
pub fn compress_scalar(state: &mut [u32; 4], blocks: &[u8]) {
    let (blocks, rest) = blocks.as_chunks::<64>();
    assert!(rest.is_empty(), "not a whole number of blocks");
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    md5_asm::compress(state, blocks);
    #[cfg(not(any(target_arch = "x86", target_arch = "x86_64")))]
    compress_portable(state, blocks);
}

/// The compression function in plain Rust, for every target (on x86 only the tests
/// use it).
pub fn compress_portable(state: &mut [u32; 4], blocks: &[[u8; 64]]) {
    macro_rules! step {
        (F, $a:ident, $b:ident, $c:ident, $d:ident, $m:expr, $k:expr, $s:literal) => {
            step!(@add $a, $b, $d ^ ($b & ($c ^ $d)), $m, $k, $s)
        };
        (G, $a:ident, $b:ident, $c:ident, $d:ident, $m:expr, $k:expr, $s:literal) => {
            step!(@add $a, $b, $c ^ ($d & ($b ^ $c)), $m, $k, $s)
        };
        (H, $a:ident, $b:ident, $c:ident, $d:ident, $m:expr, $k:expr, $s:literal) => {
            step!(@add $a, $b, $b ^ $c ^ $d, $m, $k, $s)
        };
        (I, $a:ident, $b:ident, $c:ident, $d:ident, $m:expr, $k:expr, $s:literal) => {
            step!(@add $a, $b, $c ^ ($b | !$d), $m, $k, $s)
        };
        (@add $a:ident, $b:ident, $f:expr, $m:expr, $k:expr, $s:literal) => {
            $a = $b.wrapping_add(
                $a.wrapping_add($f).wrapping_add($m).wrapping_add($k).rotate_left($s),
            )
        };
    }
    let [mut a, mut b, mut c, mut d] = *state;
    for block in blocks {
        let mut m = [0u32; 16];
        for (w, bytes) in m.iter_mut().zip(block.chunks_exact(4)) {
            *w = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        }
        let (a0, b0, c0, d0) = (a, b, c, d);
        md5_steps!(step, a, b, c, d, m);
        a = a.wrapping_add(a0);
        b = b.wrapping_add(b0);
        c = c.wrapping_add(c0);
        d = d.wrapping_add(d0);
    }
    *state = [a, b, c, d];
}

/// A kernel for [`compress_lanes`] that this CPU can run. Only [`Kernel::detect`],
/// [`Kernel::available`] and [`Kernel::scalar`] make one, so holding a `Kernel`
/// proves the CPU has its instructions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Kernel(Isa);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Isa {
    /// One lane after another, with the scalar kernel.
    Scalar,
    #[cfg(target_arch = "x86_64")]
    Avx2,
    #[cfg(target_arch = "x86_64")]
    Avx512,
}

impl Kernel {
    /// The fastest kernel this CPU can run.
    pub fn detect() -> Kernel {
        Self::available()[0]
    }

    /// Every kernel this CPU can run, fastest first; the scalar one is always last.
    pub fn available() -> Vec<Kernel> {
        let mut found = Vec::new();
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("avx512vl")
            {
                found.push(Kernel(Isa::Avx512));
            }
            if std::arch::is_x86_feature_detected!("avx2") {
                found.push(Kernel(Isa::Avx2));
            }
        }
        found.push(Kernel(Isa::Scalar));
        found
    }

    /// One lane after another with the scalar kernel: runs everywhere.
    pub fn scalar() -> Kernel {
        Kernel(Isa::Scalar)
    }

    pub fn is_scalar(self) -> bool {
        self.0 == Isa::Scalar
    }

    pub fn name(self) -> &'static str {
        match self.0 {
            Isa::Scalar => "scalar",
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => "avx2",
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => "avx512vl",
        }
    }

    /// Fewest busy lanes for which the lane kernel beats hashing them one by one.
    pub fn min_lanes(self) -> usize {
        // Measured here: one AVX2 lane hashes at ~60% of the scalar kernel, one
        // AVX-512VL lane at ~90%, so two busy lanes already win.
        match self.0 {
            Isa::Scalar => usize::MAX,
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 | Isa::Avx512 => 2,
        }
    }
}

/// Compresses `nblocks` blocks of each of [`LANES`] messages: lane `i` reads
/// `blocks[i][..nblocks * 64]` and updates `states[i]`.
pub fn compress_lanes(kernel: Kernel, states: &mut [[u32; 4]; LANES], blocks: [&[u8]; LANES], nblocks: usize) {
    for b in &blocks {
        assert!(b.len() >= nblocks * 64, "lane shorter than the blocks asked for");
    }
    match kernel.0 {
        Isa::Scalar => {
            for (state, b) in states.iter_mut().zip(blocks) {
                compress_scalar(state, &b[..nblocks * 64]);
            }
        }
        // SAFETY: a `Kernel` is only made after detecting the CPU features its
        // kernel is compiled for, and every lane holds at least `nblocks` blocks
        // (asserted above).
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => unsafe { x86::compress8_avx2(states, blocks, nblocks) },
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => unsafe { x86::compress8_avx512(states, blocks, nblocks) },
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use super::LANES;

    /// Loads block `n` of the eight lanes and transposes it so that `m[w]` holds
    /// word `w` of every lane.
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn load_words(ptrs: &[*const u8; LANES], n: usize) -> [__m256i; 16] {
        let mut m = [_mm256_setzero_si256(); 16];
        for half in 0..2 {
            // r[l] = words 8*half .. 8*half+8 of lane l.
            // SAFETY: the caller guarantees block `n` lies inside every lane.
            let r: [__m256i; 8] = std::array::from_fn(|l| unsafe {
                _mm256_loadu_si256(ptrs[l].add(n * 64 + half * 32) as *const __m256i)
            });
            let t0 = _mm256_unpacklo_epi32(r[0], r[1]);
            let t1 = _mm256_unpackhi_epi32(r[0], r[1]);
            let t2 = _mm256_unpacklo_epi32(r[2], r[3]);
            let t3 = _mm256_unpackhi_epi32(r[2], r[3]);
            let t4 = _mm256_unpacklo_epi32(r[4], r[5]);
            let t5 = _mm256_unpackhi_epi32(r[4], r[5]);
            let t6 = _mm256_unpacklo_epi32(r[6], r[7]);
            let t7 = _mm256_unpackhi_epi32(r[6], r[7]);
            let u0 = _mm256_unpacklo_epi64(t0, t2);
            let u1 = _mm256_unpackhi_epi64(t0, t2);
            let u2 = _mm256_unpacklo_epi64(t1, t3);
            let u3 = _mm256_unpackhi_epi64(t1, t3);
            let u4 = _mm256_unpacklo_epi64(t4, t6);
            let u5 = _mm256_unpackhi_epi64(t4, t6);
            let u6 = _mm256_unpacklo_epi64(t5, t7);
            let u7 = _mm256_unpackhi_epi64(t5, t7);
            let o = half * 8;
            m[o] = _mm256_permute2x128_si256::<0x20>(u0, u4);
            m[o + 1] = _mm256_permute2x128_si256::<0x20>(u1, u5);
            m[o + 2] = _mm256_permute2x128_si256::<0x20>(u2, u6);
            m[o + 3] = _mm256_permute2x128_si256::<0x20>(u3, u7);
            m[o + 4] = _mm256_permute2x128_si256::<0x31>(u0, u4);
            m[o + 5] = _mm256_permute2x128_si256::<0x31>(u1, u5);
            m[o + 6] = _mm256_permute2x128_si256::<0x31>(u2, u6);
            m[o + 7] = _mm256_permute2x128_si256::<0x31>(u3, u7);
        }
        m
    }

    /// Splits the eight chaining values into one register per state word.
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn load_states(states: &[[u32; 4]; LANES]) -> [__m256i; 4] {
        std::array::from_fn(|w| {
            let v: [u32; LANES] = std::array::from_fn(|l| states[l][w]);
            // SAFETY: `v` is 32 readable bytes.
            unsafe { _mm256_loadu_si256(v.as_ptr() as *const __m256i) }
        })
    }

    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn store_states(states: &mut [[u32; 4]; LANES], regs: [__m256i; 4]) {
        for (w, reg) in regs.into_iter().enumerate() {
            let mut v = [0u32; LANES];
            // SAFETY: `v` is 32 writable bytes.
            unsafe { _mm256_storeu_si256(v.as_mut_ptr() as *mut __m256i, reg) };
            for (state, x) in states.iter_mut().zip(v) {
                state[w] = x;
            }
        }
    }

    macro_rules! kernel {
        ($name:ident, $features:literal, $step:ident) => {
            /// # Safety
            /// The CPU must have the enabled features, and every lane must hold at
            /// least `nblocks` blocks.
            #[target_feature(enable = $features)]
            pub(super) unsafe fn $name(states: &mut [[u32; 4]; LANES], blocks: [&[u8]; LANES], nblocks: usize) {
                let ptrs: [*const u8; LANES] = std::array::from_fn(|l| blocks[l].as_ptr());
                // SAFETY: plain register loads/stores of local arrays and the lanes'
                // blocks, which the caller guarantees are long enough.
                unsafe {
                    let [mut a, mut b, mut c, mut d] = load_states(states);
                    for n in 0..nblocks {
                        let m = load_words(&ptrs, n);
                        let (a0, b0, c0, d0) = (a, b, c, d);
                        md5_steps!($step, a, b, c, d, m);
                        a = _mm256_add_epi32(a, a0);
                        b = _mm256_add_epi32(b, b0);
                        c = _mm256_add_epi32(c, c0);
                        d = _mm256_add_epi32(d, d0);
                    }
                    store_states(states, [a, b, c, d]);
                }
            }
        };
    }

    /// One step with AVX2: the Boolean functions as two or three ops, the rotate
    /// as two shifts and an OR.
    macro_rules! step_avx2 {
        (F, $a:ident, $b:ident, $c:ident, $d:ident, $m:expr, $k:expr, $s:literal) => {
            step_avx2!(@add $a, $b, _mm256_xor_si256($d, _mm256_and_si256($b, _mm256_xor_si256($c, $d))), $m, $k, $s)
        };
        (G, $a:ident, $b:ident, $c:ident, $d:ident, $m:expr, $k:expr, $s:literal) => {
            step_avx2!(@add $a, $b, _mm256_xor_si256($c, _mm256_and_si256($d, _mm256_xor_si256($b, $c))), $m, $k, $s)
        };
        (H, $a:ident, $b:ident, $c:ident, $d:ident, $m:expr, $k:expr, $s:literal) => {
            step_avx2!(@add $a, $b, _mm256_xor_si256(_mm256_xor_si256($b, $c), $d), $m, $k, $s)
        };
        (I, $a:ident, $b:ident, $c:ident, $d:ident, $m:expr, $k:expr, $s:literal) => {
            step_avx2!(@add $a, $b,
                _mm256_xor_si256($c, _mm256_or_si256($b, _mm256_xor_si256($d, _mm256_set1_epi32(-1)))),
                $m, $k, $s)
        };
        (@add $a:ident, $b:ident, $f:expr, $m:expr, $k:expr, $s:literal) => {
            let t = _mm256_add_epi32(
                _mm256_add_epi32($a, $f),
                _mm256_add_epi32($m, _mm256_set1_epi32($k as u32 as i32)),
            );
            $a = _mm256_add_epi32(
                $b,
                _mm256_or_si256(_mm256_slli_epi32::<$s>(t), _mm256_srli_epi32::<{ 32 - $s }>(t)),
            );
        };
    }

    /// One step with AVX-512VL on 256-bit registers: each Boolean function is one
    /// ternary-logic op, the rotate one instruction.
    macro_rules! step_avx512 {
        (F, $a:ident, $b:ident, $c:ident, $d:ident, $m:expr, $k:expr, $s:literal) => {
            // b ? c : d
            step_avx512!(@add $a, $b, _mm256_ternarylogic_epi32::<0xCA>($b, $c, $d), $m, $k, $s)
        };
        (G, $a:ident, $b:ident, $c:ident, $d:ident, $m:expr, $k:expr, $s:literal) => {
            // d ? b : c
            step_avx512!(@add $a, $b, _mm256_ternarylogic_epi32::<0xCA>($d, $b, $c), $m, $k, $s)
        };
        (H, $a:ident, $b:ident, $c:ident, $d:ident, $m:expr, $k:expr, $s:literal) => {
            // b ^ c ^ d
            step_avx512!(@add $a, $b, _mm256_ternarylogic_epi32::<0x96>($b, $c, $d), $m, $k, $s)
        };
        (I, $a:ident, $b:ident, $c:ident, $d:ident, $m:expr, $k:expr, $s:literal) => {
            // c ^ (b | !d)
            step_avx512!(@add $a, $b, _mm256_ternarylogic_epi32::<0x39>($b, $c, $d), $m, $k, $s)
        };
        (@add $a:ident, $b:ident, $f:expr, $m:expr, $k:expr, $s:literal) => {
            let t = _mm256_add_epi32(
                _mm256_add_epi32($a, $f),
                _mm256_add_epi32($m, _mm256_set1_epi32($k as u32 as i32)),
            );
            $a = _mm256_add_epi32($b, _mm256_rol_epi32::<$s>(t));
        };
    }

    kernel!(compress8_avx2, "avx2", step_avx2);
    kernel!(compress8_avx512, "avx2,avx512f,avx512vl", step_avx512);
}

#[cfg(test)]
mod tests {
    use md5::{Digest, Md5};

    use super::*;

    fn data(len: usize, seed: u8) -> Vec<u8> {
        (0..len)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 8) as u8)
            .collect()
    }

    #[test]
    fn stream_matches_reference_at_every_length_and_split() {
        for len in (0..300).chain([1000, 4096, 65_537]) {
            let body = data(len, len as u8);
            let want: [u8; 16] = Md5::digest(&body).into();
            for split in [0, 1, 63, 64, 65, len / 2, len] {
                let split = split.min(len);
                let mut s = Md5Stream::new();
                s.update(&body[..split]);
                s.update(&body[split..]);
                assert_eq!(s.finalize(), want, "len {len} split {split}");
            }
        }
    }

    #[test]
    fn rfc1321_vectors() {
        let cases: [(&[u8], &str); 3] = [
            (b"", "d41d8cd98f00b204e9800998ecf8427e"),
            (b"abc", "900150983cd24fb0d6963f7d28e17f72"),
            (
                b"12345678901234567890123456789012345678901234567890123456789012345678901234567890",
                "57edf4a22be3c955ac49da2e2107b67a",
            ),
        ];
        for (input, want) in cases {
            let mut s = Md5Stream::new();
            s.update(input);
            assert_eq!(hex::encode(s.finalize()), want);
        }
    }

    #[test]
    fn portable_kernel_matches_reference() {
        let body = data(64 * 50, 3);
        let (blocks, _) = body.as_chunks::<64>();
        let mut a = INIT;
        compress_portable(&mut a, blocks);
        let mut b = INIT;
        compress_scalar(&mut b, &body);
        assert_eq!(a, b);
    }

    fn check_lanes(kernel: Kernel) {
        let kernel_name = kernel.name();
        let bodies: Vec<Vec<u8>> = (0..LANES).map(|l| data(64 * 37, l as u8 * 17)).collect();
        // Start every lane from a different point: one block already hashed per lane id.
        let mut states = [[0u32; 4]; LANES];
        let mut want = [[0u32; 4]; LANES];
        for l in 0..LANES {
            let mut s = INIT;
            compress_scalar(&mut s, &bodies[l][..64 * l]);
            states[l] = s;
            compress_scalar(&mut s, &bodies[l][64 * l..64 * l + 64 * 29]);
            want[l] = s;
        }
        let blocks: [&[u8]; LANES] = std::array::from_fn(|l| &bodies[l][64 * l..]);
        compress_lanes(kernel, &mut states, blocks, 29);
        assert_eq!(states, want, "{kernel_name}");
    }

    #[test]
    fn every_kernel_matches_the_scalar_one() {
        let available = Kernel::available();
        assert_eq!(available.last(), Some(&Kernel::scalar()));
        for kernel in available {
            check_lanes(kernel);
        }
    }
}
