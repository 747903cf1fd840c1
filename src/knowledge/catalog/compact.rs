//! Compact storage for the catalog's per-article terms: variable-length
//! rows in one flat array, and sorted ids as varint gaps.

/// Variable-length rows of one flat array: row `i` is
/// `items[ends[i - 1]..ends[i]]`. One allocation for all articles instead
/// of one per article (or per word).
#[derive(Debug, Clone)]
pub struct Rows<T> {
    items: Vec<T>,
    ends: Vec<u32>,
}

impl<T> Default for Rows<T> {
    fn default() -> Self {
        Self {
            items: Vec::new(),
            ends: Vec::new(),
        }
    }
}

impl<T: Copy> Rows<T> {
    pub(super) fn push(&mut self, row: impl IntoIterator<Item = T>) -> usize {
        self.items.extend(row);
        self.ends
            .push(u32::try_from(self.items.len()).expect("fewer than 2^32 terms"));
        self.ends.len() - 1
    }

    pub fn row(&self, i: usize) -> &[T] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.items[start..self.ends[i] as usize]
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    pub(super) fn shrink_to_fit(&mut self) {
        self.items.shrink_to_fit();
        self.ends.shrink_to_fit();
    }
}

/// Sorted ids as LEB128 varints of their gaps: dense ids a few dozen
/// apart take one byte each.
pub(super) fn encode_gaps(sorted: &[u32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(sorted.len() + sorted.len() / 4);
    let mut previous = 0;
    for &id in sorted {
        let mut gap = id - previous;
        previous = id;
        while gap >= 0x80 {
            out.push((gap as u8) | 0x80);
            gap >>= 7;
        }
        out.push(gap as u8);
    }
    out
}

pub(super) fn decode_gaps(bytes: &[u8]) -> Vec<u32> {
    let mut out = Vec::with_capacity(bytes.len());
    let (mut value, mut gap, mut shift) = (0u32, 0u32, 0);
    for &byte in bytes {
        gap |= u32::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            value += gap;
            out.push(value);
            (gap, shift) = (0, 0);
        } else {
            shift += 7;
        }
    }
    out
}

pub(super) fn sorted(mut v: Vec<u32>) -> Vec<u32> {
    v.sort_unstable();
    v.dedup();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_round_trip() {
        let ids = [0, 1, 2, 127, 128, 300, 16_384, 70_000, u32::MAX];
        let bytes = encode_gaps(&ids);
        assert_eq!(decode_gaps(&bytes), ids);
        assert_eq!(encode_gaps(&[3, 5, 9]), [3, 2, 4]);
        assert!(decode_gaps(&[]).is_empty());
    }
}
