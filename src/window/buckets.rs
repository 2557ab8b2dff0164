//! Compact storage for a ring of `(errors, total)` buckets, where "no datapoint" is a value
//! of its own.
//!
//! A 30-day SLO keeps 8,640 five-minute buckets; at two `u32` each that is 67.5 KiB, over
//! the 64 KiB budget. Real buckets hold far fewer than 2^28 events (268 million in five
//! minutes is 900,000 requests per second for one SLO), so each bucket is packed into
//! seven bytes: 28 bits of errors and 28 bits of total. The all-ones total is the "no
//! datapoint" marker. A bucket that does not fit switches the whole ring, once, to a wide
//! layout of two `u64` per bucket, so counts are never truncated.

/// Event counts of one bucket. `errors <= total` always holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Bad events.
    pub errors: u64,
    /// All valid events (good + bad).
    pub total: u64,
}

/// Bits per field in the packed layout.
const FIELD_BITS: u32 = 28;
/// All-ones field: in the total field it marks "no datapoint"; real counts stay below it.
const FIELD_MAX: u64 = (1 << FIELD_BITS) - 1;
/// Bytes per packed bucket (56 bits).
const PACKED_BYTES: usize = 7;
/// Mask of the 56 bits a packed bucket uses inside the 8 bytes read at its offset.
const PACKED_MASK: u64 = (1 << (2 * FIELD_BITS)) - 1;
/// Total value that marks "no datapoint" in the wide layout.
const WIDE_NO_DATA: u64 = u64::MAX;

#[derive(Clone, Debug)]
enum Repr {
    /// Seven bytes per bucket, plus one padding byte at the end so that every bucket can be
    /// read and written as one unaligned little-endian `u64`.
    Packed(Box<[u8]>),
    /// `[errors, total]` per bucket.
    Wide(Box<[[u64; 2]]>),
}

/// A fixed number of bucket slots. The ring arithmetic (which slot holds which time) is
/// the caller's; this type only stores and packs values.
#[derive(Clone, Debug)]
pub struct Buckets {
    len: usize,
    repr: Repr,
}

impl Buckets {
    /// `len` slots, all "no datapoint".
    pub fn new(len: usize) -> Self {
        // All-ones bytes decode to errors = FIELD_MAX, total = FIELD_MAX: no datapoint.
        Buckets {
            len,
            repr: Repr::Packed(vec![0xff; len * PACKED_BYTES + 1].into_boxed_slice()),
        }
    }

    /// Number of slots.
    pub fn len(&self) -> usize {
        self.len
    }

    /// The bucket in `slot`: `None` when it has no datapoint.
    #[inline]
    pub fn get(&self, slot: usize) -> Option<Counts> {
        match &self.repr {
            Repr::Packed(bytes) => {
                let word = read_word(bytes, slot) & PACKED_MASK;
                let total = word >> FIELD_BITS;
                if total == FIELD_MAX {
                    None
                } else {
                    Some(Counts {
                        errors: word & FIELD_MAX,
                        total,
                    })
                }
            }
            Repr::Wide(v) => {
                let [errors, total] = v[slot];
                (total != WIDE_NO_DATA).then_some(Counts { errors, total })
            }
        }
    }

    /// Store `value` (or "no datapoint") in `slot`, widening the ring if it does not fit.
    #[inline]
    pub fn set(&mut self, slot: usize, value: Option<Counts>) {
        if let (Repr::Packed(_), Some(c)) = (&self.repr, value)
            && (c.total >= FIELD_MAX || c.errors >= FIELD_MAX)
        {
            self.widen();
        }
        match &mut self.repr {
            Repr::Packed(bytes) => {
                let packed = match value {
                    Some(c) => c.errors | (c.total << FIELD_BITS),
                    None => PACKED_MASK,
                };
                let old = read_word(bytes, slot);
                let word = (old & !PACKED_MASK) | packed;
                bytes[slot * PACKED_BYTES..slot * PACKED_BYTES + 8]
                    .copy_from_slice(&word.to_le_bytes());
            }
            Repr::Wide(v) => {
                v[slot] = match value {
                    Some(c) => [c.errors, c.total],
                    None => [0, WIDE_NO_DATA],
                };
            }
        }
    }

    /// Ask the CPU to start loading `slot` into cache: a hint, with no effect on results.
    /// With thousands of SLOs each bucket read is a cache (and TLB) miss; issuing the
    /// loads for the next SLOs while working on this one overlaps those misses.
    #[inline]
    pub fn prefetch(&self, slot: usize) {
        let ptr: *const u8 = match &self.repr {
            Repr::Packed(bytes) => bytes.as_ptr().wrapping_add(slot * PACKED_BYTES),
            Repr::Wide(v) => v.as_ptr().wrapping_add(slot).cast(),
        };
        prefetch(ptr);
    }

    /// Heap bytes used by the slots.
    pub fn heap_bytes(&self) -> usize {
        match &self.repr {
            Repr::Packed(b) => b.len(),
            Repr::Wide(v) => std::mem::size_of_val(&**v),
        }
    }

    /// True once the ring switched to the wide layout.
    #[cfg(test)]
    pub fn is_wide(&self) -> bool {
        matches!(self.repr, Repr::Wide(_))
    }

    fn widen(&mut self) {
        let wide: Box<[[u64; 2]]> = (0..self.len)
            .map(|s| match self.get(s) {
                Some(c) => [c.errors, c.total],
                None => [0, WIDE_NO_DATA],
            })
            .collect();
        self.repr = Repr::Wide(wide);
    }
}

/// Cache prefetch hints for every line of `value` (a struct that will be read soon).
#[inline]
pub fn prefetch_value<T>(value: &T) {
    let ptr = (value as *const T).cast::<u8>();
    let mut offset = 0;
    while offset < std::mem::size_of::<T>() {
        prefetch(ptr.wrapping_add(offset));
        offset += 64;
    }
}

/// A cache prefetch hint for the line holding `ptr`.
#[inline]
fn prefetch(ptr: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `prefetcht0` is a hint: it never faults, whatever the address, and does not
    // change memory or registers. SSE is part of the x86_64 baseline.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(ptr.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = ptr;
}

#[inline]
fn read_word(bytes: &[u8], slot: usize) -> u64 {
    let start = slot * PACKED_BYTES;
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[start..start + 8]);
    u64::from_le_bytes(word)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_slots_have_no_datapoint_and_zero_traffic_is_data() {
        let mut b = Buckets::new(3);
        assert_eq!(b.get(0), None);
        b.set(1, Some(Counts::default()));
        assert_eq!(b.get(1), Some(Counts::default()));
        assert_eq!(b.get(0), None);
        assert_eq!(b.get(2), None);
    }

    #[test]
    fn neighbours_are_untouched_by_a_write() {
        let mut b = Buckets::new(4);
        for s in 0..4 {
            b.set(
                s,
                Some(Counts {
                    errors: s as u64,
                    total: 1000 + s as u64,
                }),
            );
        }
        b.set(2, None);
        assert_eq!(
            b.get(1),
            Some(Counts {
                errors: 1,
                total: 1001
            })
        );
        assert_eq!(b.get(2), None);
        assert_eq!(
            b.get(3),
            Some(Counts {
                errors: 3,
                total: 1003
            })
        );
    }

    #[test]
    fn largest_packed_value_fits_and_one_more_widens_without_loss() {
        let mut b = Buckets::new(3);
        let big = Counts {
            errors: FIELD_MAX - 1,
            total: FIELD_MAX - 1,
        };
        b.set(0, Some(big));
        assert!(!b.is_wide());
        assert_eq!(b.get(0), Some(big));
        let huge = Counts {
            errors: 5,
            total: FIELD_MAX,
        };
        b.set(1, Some(huge));
        assert!(b.is_wide());
        assert_eq!(b.get(0), Some(big));
        assert_eq!(b.get(1), Some(huge));
        assert_eq!(b.get(2), None);
    }

    #[test]
    fn packed_layout_is_seven_bytes_a_bucket() {
        assert_eq!(Buckets::new(8640).heap_bytes(), 8640 * 7 + 1);
    }
}
