//! The audit log's Merkle tree, as RFC 9162 (Certificate Transparency 2.0)
//! defines it: SHA-256, leaves hashed as `H(0x00 || leaf)`, inner nodes as
//! `H(0x01 || left || right)`, the tree over `n` leaves split at the largest
//! power of two below `n`; inclusion and consistency proofs and their
//! verification (RFC 9162 §2.1.3 and §2.1.4).
//!
//! Storage keeps every *perfect* subtree's hash: node `(level, index)` covers
//! leaves `index·2^level .. (index+1)·2^level`. Every hash a proof or a root
//! needs is one of those or is combined from them ([`range_hash`]), so this
//! module says which nodes it needs ([`nodes_for_ranges`]) and the caller
//! fetches them; nothing here does IO.
//!
//! Leaf `i` is the event with sequence number `i + 1`.

use std::collections::HashMap;

use sha2::{Digest, Sha256};

/// A SHA-256 hash.
pub type Hash = [u8; 32];

/// A stored node: `(level, index)`.
pub type NodeId = (u32, u64);

/// `H(0x00 || data)`.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

/// `H(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The root of the empty tree: `H()`.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// The largest power of two strictly below `n` (`n >= 2`).
fn split(n: u64) -> u64 {
    let mut k = 1;
    while k << 1 < n {
        k <<= 1;
    }
    k
}

/// The perfect subtrees that make up leaves `a..b` in the tree's own
/// shape (the left part of every split is perfect and aligned), left to
/// right. `a..b` must be a range the RFC's recursion produces: `a` a
/// multiple of the size of the first perfect piece.
pub fn perfect_pieces(a: u64, b: u64) -> Vec<NodeId> {
    let mut out = Vec::new();
    let (mut a, b) = (a, b);
    while a < b {
        let n = b - a;
        if n.is_power_of_two() && a % n == 0 {
            out.push((n.trailing_zeros(), a / n));
            break;
        }
        let k = split(n);
        out.push((k.trailing_zeros(), a / k));
        a += k;
    }
    out
}

/// The hash of leaves `a..b` (MTH of that range) from stored perfect
/// nodes; None when a node is missing.
pub fn range_hash(a: u64, b: u64, nodes: &HashMap<NodeId, Hash>) -> Option<Hash> {
    if a >= b {
        return Some(empty_root());
    }
    let pieces = perfect_pieces(a, b);
    // The last piece is the innermost right subtree: fold from the right.
    let mut iter = pieces.iter().rev();
    let mut acc = *nodes.get(iter.next()?)?;
    for id in iter {
        acc = node_hash(nodes.get(id)?, &acc);
    }
    Some(acc)
}

/// The ranges whose hashes form the inclusion proof of leaf `m` in a tree
/// of `n` leaves (RFC 9162 §2.1.3.1), in proof order.
pub fn inclusion_ranges(m: u64, n: u64) -> Vec<(u64, u64)> {
    fn path(m: u64, a: u64, b: u64, out: &mut Vec<(u64, u64)>) {
        let n = b - a;
        if n <= 1 {
            return;
        }
        let k = split(n);
        if m < k {
            path(m, a, a + k, out);
            out.push((a + k, b));
        } else {
            path(m - k, a + k, b, out);
            out.push((a, a + k));
        }
    }
    let mut out = Vec::new();
    if m < n {
        path(m, 0, n, &mut out);
    }
    out
}

/// The ranges whose hashes form the consistency proof between the trees
/// of `m` and `n` leaves, `0 < m < n` (RFC 9162 §2.1.4.1), in proof order.
pub fn consistency_ranges(m: u64, n: u64) -> Vec<(u64, u64)> {
    fn sub(m: u64, a: u64, b: u64, whole: bool, out: &mut Vec<(u64, u64)>) {
        let n = b - a;
        if m == n {
            if !whole {
                out.push((a, b));
            }
            return;
        }
        let k = split(n);
        if m <= k {
            sub(m, a, a + k, whole, out);
            out.push((a + k, b));
        } else {
            sub(m - k, a + k, b, false, out);
            out.push((a, a + k));
        }
    }
    let mut out = Vec::new();
    if 0 < m && m < n {
        sub(m, 0, n, true, &mut out);
    }
    out
}

/// Every stored node that [`range_hash`] needs for `ranges`.
pub fn nodes_for_ranges(ranges: &[(u64, u64)]) -> Vec<NodeId> {
    let mut out: Vec<NodeId> = ranges
        .iter()
        .flat_map(|&(a, b)| perfect_pieces(a, b))
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

fn lsb(x: u64) -> bool {
    x & 1 == 1
}

/// Verifies that `leaf` (a leaf hash) is leaf `index` of the tree of
/// `size` leaves whose root is `root` (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(index: u64, size: u64, leaf: &Hash, proof: &[Hash], root: &Hash) -> bool {
    if index >= size {
        return false;
    }
    let (mut fnode, mut snode) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if snode == 0 {
            return false;
        }
        if lsb(fnode) || fnode == snode {
            r = node_hash(p, &r);
            while !lsb(fnode) && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    snode == 0 && r == *root
}

/// Verifies that the tree of `first` leaves with root `first_root` is a
/// prefix of the tree of `second` leaves with root `second_root`
/// (RFC 9162 §2.1.4.2).
pub fn verify_consistency(
    first: u64,
    second: u64,
    first_root: &Hash,
    second_root: &Hash,
    proof: &[Hash],
) -> bool {
    if first == second {
        return proof.is_empty() && first_root == second_root;
    }
    if first == 0 || first > second {
        // Every tree extends the empty one; nothing extends a larger one.
        return first == 0 && proof.is_empty();
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if first.is_power_of_two() {
        path.push(*first_root);
    }
    path.extend_from_slice(proof);
    let Some((c0, rest)) = path.split_first() else {
        return false;
    };
    let (mut fnode, mut snode) = (first - 1, second - 1);
    while lsb(fnode) {
        fnode >>= 1;
        snode >>= 1;
    }
    let (mut fr, mut sr) = (*c0, *c0);
    for c in rest {
        if snode == 0 {
            return false;
        }
        if lsb(fnode) || fnode == snode {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while !lsb(fnode) && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    fr == *first_root && sr == *second_root && snode == 0
}

/// The right edge of a tree being appended to: the hashes of the perfect
/// subtrees that make up its leaves (largest first), enough to add leaves
/// and to compute the root. `O(log n)` memory, for appending and for
/// recomputing a whole log while streaming it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    /// `(level, hash)` of each perfect subtree, left to right.
    edge: Vec<(u32, Hash)>,
}

impl Frontier {
    /// The frontier of a tree of `size` leaves from its stored nodes
    /// (`perfect_pieces(0, size)`); None when one is missing.
    pub fn from_nodes(size: u64, nodes: &HashMap<NodeId, Hash>) -> Option<Frontier> {
        let edge = perfect_pieces(0, size)
            .into_iter()
            .map(|id| nodes.get(&id).map(|h| (id.0, *h)))
            .collect::<Option<Vec<_>>>()?;
        Some(Frontier { size, edge })
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends a leaf hash; returns the nodes this completes (the leaf
    /// itself and every perfect subtree it closes), to be stored.
    pub fn push(&mut self, leaf: Hash) -> Vec<(NodeId, Hash)> {
        let index = self.size;
        let mut made = vec![((0, index), leaf)];
        let (mut level, mut idx, mut hash) = (0u32, index, leaf);
        while let Some(&(l, left)) = self.edge.last() {
            if l != level {
                break;
            }
            self.edge.pop();
            hash = node_hash(&left, &hash);
            level += 1;
            idx >>= 1;
            made.push(((level, idx), hash));
        }
        self.edge.push((level, hash));
        self.size += 1;
        made
    }

    /// The root of the tree so far.
    pub fn root(&self) -> Hash {
        let mut iter = self.edge.iter().rev();
        let Some(&(_, mut acc)) = iter.next() else {
            return empty_root();
        };
        for (_, h) in iter {
            acc = node_hash(h, &acc);
        }
        acc
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// MTH straight from the RFC's definition, over leaf data.
    fn mth(d: &[Vec<u8>]) -> Hash {
        match d.len() {
            0 => empty_root(),
            1 => leaf_hash(&d[0]),
            n => {
                let k = split(n as u64) as usize;
                node_hash(&mth(&d[..k]), &mth(&d[k..]))
            }
        }
    }

    fn leaves(n: u64) -> Vec<Vec<u8>> {
        (0..n).map(|i| format!("event {i}").into_bytes()).collect()
    }

    /// Builds a tree through the frontier, keeping every node it makes.
    fn build(n: u64) -> (Frontier, HashMap<NodeId, Hash>) {
        let mut f = Frontier::default();
        let mut nodes = HashMap::new();
        for d in leaves(n) {
            nodes.extend(f.push(leaf_hash(&d)));
        }
        (f, nodes)
    }

    fn proof(ranges: &[(u64, u64)], nodes: &HashMap<NodeId, Hash>) -> Vec<Hash> {
        ranges
            .iter()
            .map(|&(a, b)| range_hash(a, b, nodes).unwrap_or_default())
            .collect()
    }

    #[test]
    fn roots_match_the_rfc_definition() {
        for n in 0..70u64 {
            let d = leaves(n);
            let (f, nodes) = build(n);
            assert_eq!(f.root(), mth(&d), "frontier root, n = {n}");
            assert_eq!(
                range_hash(0, n, &nodes),
                Some(mth(&d)),
                "stored root, n = {n}"
            );
            // A frontier rebuilt from stored nodes continues the same tree.
            let again = Frontier::from_nodes(n, &nodes);
            assert_eq!(again.as_ref(), Some(&f));
        }
    }

    #[test]
    fn known_answer() {
        // Two leaves: H(0x01 || H(0x00 || "a") || H(0x00 || "b")).
        let a = leaf_hash(b"a");
        let b = leaf_hash(b"b");
        let mut f = Frontier::default();
        f.push(a);
        f.push(b);
        let mut h = Sha256::new();
        h.update([1u8]);
        h.update(Sha256::digest([&[0u8][..], b"a"].concat()));
        h.update(Sha256::digest([&[0u8][..], b"b"].concat()));
        let want: Hash = h.finalize().into();
        assert_eq!(f.root(), want);
        assert_eq!(
            hex_of(&empty_root()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    fn hex_of(h: &Hash) -> String {
        h.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn every_inclusion_proof_verifies_and_no_forgery_does() {
        for n in 1..40u64 {
            let (f, nodes) = build(n);
            let root = f.root();
            for m in 0..n {
                let leaf = nodes[&(0, m)];
                let p = proof(&inclusion_ranges(m, n), &nodes);
                assert!(verify_inclusion(m, n, &leaf, &p, &root), "m {m} n {n}");
                // The wrong leaf, index, size, root or a changed step fails.
                assert!(!verify_inclusion(m, n, &leaf_hash(b"forged"), &p, &root));
                if n > 1 {
                    assert!(!verify_inclusion((m + 1) % n, n, &leaf, &p, &root));
                }
                // (The size is not checked against the root here: a signed
                // checkpoint binds the two.)
                assert!(!verify_inclusion(m, m, &leaf, &p, &root));
                assert!(!verify_inclusion(m, n, &leaf, &p, &leaf_hash(b"root")));
                for i in 0..p.len() {
                    let mut bad = p.clone();
                    bad[i][0] ^= 1;
                    assert!(!verify_inclusion(m, n, &leaf, &bad, &root));
                }
                let mut longer = p.clone();
                longer.push(root);
                assert!(!verify_inclusion(m, n, &leaf, &longer, &root));
            }
        }
    }

    #[test]
    fn every_consistency_proof_verifies_and_no_forgery_does() {
        for n in 2..40u64 {
            let (f, nodes) = build(n);
            let root = f.root();
            for m in 1..n {
                let old = range_hash(0, m, &nodes).unwrap_or_default();
                let p = proof(&consistency_ranges(m, n), &nodes);
                assert!(verify_consistency(m, n, &old, &root, &p), "m {m} n {n}");
                assert!(!verify_consistency(m, n, &leaf_hash(b"x"), &root, &p));
                assert!(!verify_consistency(m, n, &old, &leaf_hash(b"x"), &p));
                for i in 0..p.len() {
                    let mut bad = p.clone();
                    bad[i][31] ^= 0x80;
                    assert!(
                        !verify_consistency(m, n, &old, &root, &bad),
                        "m {m} n {n} i {i}"
                    );
                }
                // A tree whose old part was rewritten is not consistent.
                let mut other = leaves(n);
                other[0] = b"rewritten".to_vec();
                assert!(!verify_consistency(m, n, &old, &mth(&other), &p));
            }
        }
        assert!(verify_consistency(5, 5, &[1; 32], &[1; 32], &[]));
        assert!(!verify_consistency(6, 5, &[1; 32], &[1; 32], &[]));
    }

    #[test]
    fn proofs_need_only_the_listed_nodes() {
        let (_, nodes) = build(37);
        let ranges = inclusion_ranges(20, 37);
        let needed: HashMap<NodeId, Hash> = nodes_for_ranges(&ranges)
            .into_iter()
            .map(|id| (id, nodes[&id]))
            .collect();
        assert_eq!(proof(&ranges, &needed), proof(&ranges, &nodes));
        assert!(needed.len() <= 12);
    }
}
