//! The clock and the ids made from it.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the epoch.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Microseconds since the epoch.
pub(crate) fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// A fresh 16-byte id: the time in microseconds (u64 BE), then 64 random bits.
/// Unique like a random id, but ids made close in time sort close together: upload
/// ids list in the order they were made, and the inline data (and reference count)
/// rows a commit adds land in the same few B-tree pages at the end of their tables
/// instead of one page each anywhere in them.
pub(crate) fn time_ordered_id() -> [u8; 16] {
    let mut id = [0u8; 16];
    id[..8].copy_from_slice(&now_us().to_be_bytes());
    id[8..].copy_from_slice(&rand::random::<[u8; 8]>());
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_ordered_ids_are_unique_and_sort_by_time() {
        let mut ids: Vec<[u8; 16]> = (0..10_000).map(|_| time_ordered_id()).collect();
        let first = ids[0];
        std::thread::sleep(std::time::Duration::from_millis(2));
        let later = time_ordered_id();
        assert!(later > first, "an id made later sorts after");
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 10_000, "ids made in the same microsecond still differ");
    }
}
