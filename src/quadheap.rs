//! A max-heap with four children per node, for the story linkage's merge candidates.
//!
//! At a million articles the linkage's heap holds millions of entries and outgrows the caches:
//! `std`'s binary heap spent a fifth of the linkage waiting on memory in its pops, one cache
//! miss per level. Four children per node halve the levels, and a node's children share one or
//! two cache lines. Pops come in the same order as from any max-heap: the greatest first (items
//! the linkage pushes are totally ordered, so the order of equal items cannot show).
//!
//! It does only what the linkage needs: push, pop, len.

/// A max-heap, four children per node: the children of `i` are `4i + 1 ..= 4i + 4`.
#[derive(Debug, Clone)]
pub struct QuaternaryHeap<T> {
    items: Vec<T>,
}

impl<T: Ord> Default for QuaternaryHeap<T> {
    fn default() -> Self {
        QuaternaryHeap { items: Vec::new() }
    }
}

const ARITY: usize = 4;

impl<T: Ord> QuaternaryHeap<T> {
    pub fn new() -> Self {
        QuaternaryHeap::default()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn push(&mut self, item: T) {
        self.items.push(item);
        self.sift_up(self.items.len() - 1);
    }

    /// The greatest item, removed.
    pub fn pop(&mut self) -> Option<T> {
        let last = self.items.pop()?;
        if self.items.is_empty() {
            return Some(last);
        }
        let top = std::mem::replace(&mut self.items[0], last);
        // As `std` does: move the hole to a leaf along the greatest children, then sift the
        // moved item up from there (it came from the bottom, so it rarely climbs far).
        let end = self.items.len();
        let mut hole = 0;
        while let Some(child) = self.greatest_child(hole, end) {
            self.items.swap(hole, child);
            hole = child;
        }
        self.sift_up(hole);
        Some(top)
    }

    /// The greatest of `i`'s children below `end`, if it has any.
    fn greatest_child(&self, i: usize, end: usize) -> Option<usize> {
        let first = ARITY * i + 1;
        if first >= end {
            return None;
        }
        let last = (first + ARITY).min(end);
        let mut best = first;
        for child in first + 1..last {
            if self.items[child] > self.items[best] {
                best = child;
            }
        }
        Some(best)
    }

    fn sift_up(&mut self, mut i: usize) {
        while i > 0 {
            let parent = (i - 1) / ARITY;
            if self.items[i] <= self.items[parent] {
                return;
            }
            self.items.swap(i, parent);
            i = parent;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Any sequence of pushes and pops gives what `std`'s heap gives.
        #[test]
        fn pops_as_the_binary_heap_does(ops in proptest::collection::vec((any::<bool>(), 0u16..500), 0..600)) {
            let mut ours = QuaternaryHeap::new();
            let mut reference = std::collections::BinaryHeap::new();
            for (push, value) in ops {
                if push {
                    ours.push(value);
                    reference.push(value);
                } else {
                    prop_assert_eq!(ours.pop(), reference.pop());
                }
                prop_assert_eq!(ours.len(), reference.len());
            }
            while let Some(expected) = reference.pop() {
                prop_assert_eq!(ours.pop(), Some(expected));
            }
            prop_assert!(ours.is_empty());
            prop_assert_eq!(ours.pop(), None);
        }
    }
}
