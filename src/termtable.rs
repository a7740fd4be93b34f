//! A map from term hashes to small values, for numbering the terms of a whole run (part of the
//! story stage): open addressing with linear probing, at most three quarters full.
//!
//! Term hashes are xxh3 outputs, so they are hashed no further than one multiply to pick a home
//! slot, and the caller can prefetch the slot of a lookup it will make soon: the map of term
//! numbers outgrows the caches, and a general hash map spent most of its time waiting for one
//! cache miss per lookup. It does not remove entries or keep an order. (For one article's terms,
//! a few hundred, `AHashMap` is as fast: its table fits in the cache, and zeroing this table's
//! wider slots for every article cost more than the lookups saved.)
//!
//! [`prefetch`], the hint it uses, also serves the story stage's other scattered reads (the next
//! candidate's vector, the next cluster of the linkage).

/// Hints the processor to fetch the cache line that holds `item` (a no-op off x86-64).
#[inline]
pub fn prefetch<T>(item: &T) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let address: *const T = item;
        // SAFETY: a prefetch is a hint: it reads nothing, writes nothing and cannot fault (and
        // the address is that of a live reference).
        unsafe { _mm_prefetch::<_MM_HINT_T0>(address.cast()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = item;
}

/// Term hash → value. Key 0 marks an empty slot; the value of the hash 0 is kept aside.
#[derive(Debug, Clone)]
pub struct TermTable<V> {
    slots: Vec<(u64, V)>,
    /// The value of the hash 0, which cannot be stored in a slot.
    zero: Option<V>,
    /// log2 of the slot count.
    bits: u32,
    /// Occupied slots (without `zero`).
    occupied: usize,
}

impl<V: Copy + Default> Default for TermTable<V> {
    fn default() -> Self {
        TermTable::with_capacity(0)
    }
}

impl<V: Copy + Default> TermTable<V> {
    /// A table that holds `entries` without growing.
    fn with_capacity(entries: usize) -> Self {
        let bits = (entries.max(8) * 4 / 3 + 1)
            .next_power_of_two()
            .trailing_zeros();
        TermTable {
            slots: vec![(0, V::default()); 1 << bits],
            zero: None,
            bits,
            occupied: 0,
        }
    }

    fn home(&self, hash: u64) -> usize {
        (hash.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - self.bits)) as usize
    }

    /// Hints the processor to fetch the cache line where the lookup of `hash` starts.
    #[inline]
    pub fn prefetch(&self, hash: u64) {
        prefetch(&self.slots[self.home(hash)]);
    }

    /// The value of `hash`, inserted as `new()` when the hash is not in the table.
    #[inline]
    pub fn get_or_insert_with(&mut self, hash: u64, new: impl FnOnce() -> V) -> &mut V {
        if hash == 0 {
            return self.zero.get_or_insert_with(new);
        }
        let mask = self.slots.len() - 1;
        let mut i = self.home(hash);
        loop {
            let key = self.slots[i].0;
            if key == hash {
                return &mut self.slots[i].1;
            }
            if key == 0 {
                break;
            }
            i = (i + 1) & mask;
        }
        // Three quarters: half full took 10 MB more at 100,000 articles (288k terms), which
        // raised the run's peak, for no measurable speed.
        if (self.occupied + 1) * 4 > self.slots.len() * 3 {
            self.grow();
            return self.get_or_insert_with(hash, new);
        }
        self.occupied += 1;
        self.slots[i] = (hash, new());
        &mut self.slots[i].1
    }

    fn grow(&mut self) {
        let mut grown = TermTable {
            slots: vec![(0, V::default()); 2 << self.bits],
            zero: self.zero,
            bits: self.bits + 1,
            occupied: self.occupied,
        };
        let mask = grown.slots.len() - 1;
        for &(hash, value) in self.slots.iter().filter(|slot| slot.0 != 0) {
            let mut i = grown.home(hash);
            while grown.slots[i].0 != 0 {
                i = (i + 1) & mask;
            }
            grown.slots[i] = (hash, value);
        }
        *self = grown;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ahash::AHashMap;

    #[test]
    fn finds_what_was_inserted_through_growth() {
        // Hashes that share homes (multiples of a power of two), 0, the largest, and random
        // ones, each asked several times: every hash keeps the value it got first.
        let mut state = 7u64;
        let mut hashes: Vec<u64> = vec![0, u64::MAX, 1 << 63, 3];
        hashes.extend((1..2_000u64).map(|i| i << 40));
        hashes.extend((0..20_000).map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            state
        }));
        let mut reference: AHashMap<u64, u32> = AHashMap::new();
        let mut table: TermTable<u32> = TermTable::default();
        for round in 0..3 {
            for &hash in hashes.iter().skip(round) {
                let next = reference.len() as u32;
                let expected = *reference.entry(hash).or_insert(next);
                table.prefetch(hash);
                assert_eq!(*table.get_or_insert_with(hash, || next), expected);
            }
        }
        let stored = table.occupied + usize::from(table.zero.is_some());
        assert_eq!(stored, reference.len());
        assert!(table.occupied * 4 <= table.slots.len() * 3);
        for (&hash, &value) in &reference {
            assert_eq!(*table.get_or_insert_with(hash, || u32::MAX), value);
        }
    }

    #[test]
    fn values_are_updated_in_place() {
        let mut table: TermTable<f32> = TermTable::with_capacity(2);
        for hash in [5, 0, 5, 9, 5, 0] {
            *table.get_or_insert_with(hash, || 0.0) += 1.0;
        }
        let listed: Vec<(u64, f32)> = [0, 5, 9]
            .into_iter()
            .map(|hash| (hash, *table.get_or_insert_with(hash, || f32::NAN)))
            .collect();
        assert_eq!(listed, vec![(0, 2.0), (5, 3.0), (9, 1.0)]);
        assert_eq!(table.occupied + usize::from(table.zero.is_some()), 3);
    }
}
