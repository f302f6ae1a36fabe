//! `--shard i/n`: which workspaces one `molecule run` of `n` serves, so every pod of a
//! StatefulSet can mount the same file. A workspace belongs to shard `fnv1a(id bytes) mod n`:
//! a stable hash (std's hasher is seeded per process, and the pods must agree).

use uuid::Uuid;

/// One shard of `count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// This shard, from 0.
    pub index: u64,
    /// How many there are.
    pub count: u64,
}

impl Shard {
    /// Reads `i/n` (0 ≤ i < n).
    pub fn parse(text: &str) -> Result<Shard, String> {
        let bad = || format!("invalid --shard {text:?}: expected i/n with 0 <= i < n, e.g. 0/3");
        let (i, n) = text.trim().split_once('/').ok_or_else(bad)?;
        let index: u64 = i.trim().parse().map_err(|_| bad())?;
        let count: u64 = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }

    /// Whether `id` is this shard's.
    pub fn owns(&self, id: Uuid) -> bool {
        fnv1a(id.as_bytes()) % self.count == self.index
    }
}

/// 64-bit FNV-1a.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn n_shards_cover_every_workspace_exactly_once() {
        let ids: Vec<Uuid> = (0..2000).map(|_| Uuid::new_v4()).collect();
        for count in [1, 2, 3, 7, 16] {
            let shards: Vec<Shard> = (0..count).map(|index| Shard { index, count }).collect();
            let mut sizes = vec![0usize; count as usize];
            for id in &ids {
                let owners: Vec<&Shard> = shards.iter().filter(|s| s.owns(*id)).collect();
                assert_eq!(owners.len(), 1, "{id} in {count} shards");
                sizes[owners[0].index as usize] += 1;
            }
            // Spread evenly enough that no pod is idle while another carries double.
            let fair = ids.len() / count as usize;
            assert!(sizes.iter().all(|&s| s > fair / 2), "{count}: {sizes:?}");
        }
    }

    #[test]
    fn the_hash_is_stable_across_processes() {
        // The published FNV-1a test vectors: a pod built elsewhere agrees.
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        let id = Uuid::parse_str("3f0c0000-0000-4000-8000-000000000001").unwrap();
        assert!(Shard::parse("1/1").is_err());
        assert!(Shard::parse("0/1").unwrap().owns(id));
    }

    #[test]
    fn bad_shards_are_refused() {
        for text in ["", "1", "3/3", "0/0", "a/b", "-1/2"] {
            assert!(Shard::parse(text).is_err(), "{text}");
        }
        assert_eq!(Shard::parse(" 2/3 ").unwrap(), Shard { index: 2, count: 3 });
    }
}
