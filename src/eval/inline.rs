//! [`Inline`]: a vector with a small fixed capacity stored in place.
//!
//! An evaluation visits every SLO every tick; with thousands of SLOs the cost is memory
//! traffic, not arithmetic. Keeping each SLO's handful of windows, statuses and alerts
//! inside its entry (instead of in separate heap allocations) keeps a tick to one
//! sequential pass over the entries plus a few bucket reads.

use std::ops::{Deref, DerefMut};

/// Up to `N` items in place; derefs to a slice of the items present.
#[derive(Clone, Debug, PartialEq)]
pub struct Inline<T, const N: usize> {
    len: usize,
    items: [T; N],
}

impl<T: Default, const N: usize> Default for Inline<T, N> {
    fn default() -> Self {
        Inline {
            len: 0,
            items: std::array::from_fn(|_| T::default()),
        }
    }
}

impl<T, const N: usize> Inline<T, N> {
    /// Append `item`; gives it back when full.
    pub fn push(&mut self, item: T) -> Result<(), T> {
        match self.items.get_mut(self.len) {
            Some(slot) => {
                *slot = item;
                self.len += 1;
                Ok(())
            }
            None => Err(item),
        }
    }

    /// Forget every item (they stay in place until overwritten).
    pub fn clear(&mut self) {
        self.len = 0;
    }
}

impl<T, const N: usize> Deref for Inline<T, N> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.items[..self.len]
    }
}

impl<T, const N: usize> DerefMut for Inline<T, N> {
    fn deref_mut(&mut self) -> &mut [T] {
        &mut self.items[..self.len]
    }
}

impl<'a, T, const N: usize> IntoIterator for &'a Inline<T, N> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pushes_up_to_capacity() {
        let mut v: Inline<u8, 2> = Inline::default();
        assert!(v.is_empty());
        assert_eq!(v.push(1), Ok(()));
        assert_eq!(v.push(2), Ok(()));
        assert_eq!(v.push(3), Err(3));
        assert_eq!(&*v, &[1, 2]);
        v.clear();
        assert!(v.is_empty());
    }
}
