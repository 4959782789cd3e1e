//! `CpuSet`: a set of logical CPU numbers in the kernel's list format (`0-3,8-11`).

use std::collections::BTreeSet;
use std::fmt;

/// A set of logical CPU numbers. Invariant: none; an empty set is valid (an E-core without
/// an L3, an offline node). Displays in the kernel's canonical list format, ranges merged.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CpuSet(BTreeSet<u32>);

/// Why a CPU list did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CpuSetError {
    /// A piece between commas is not a number or a range.
    #[error("`{piece}` is not a CPU number or a range like `4-7`")]
    BadPiece {
        /// The offending piece.
        piece: String,
    },
    /// A range runs backwards.
    #[error("the range `{piece}` runs backwards: write the lower CPU first")]
    Backwards {
        /// The offending piece.
        piece: String,
    },
    /// A CPU id beyond any machine (guards against `0-4294967295`).
    #[error("`{piece}` names CPU ids of {limit} or more, which no machine has", limit = CpuSet::LIMIT)]
    TooLarge {
        /// The offending piece.
        piece: String,
    },
    /// An ordered list (vCPU pins) names more CPUs than any machine has.
    #[error("the list names more than {limit} CPUs, more than any machine has", limit = CpuSet::LIMIT)]
    TooMany,
}

/// The words of a bitmap that holds every CPU id below [`CpuSet::LIMIT`].
const WORDS: usize = CpuSet::LIMIT as usize / 64;

impl CpuSet {
    /// CPU ids are below this. Linux's `NR_CPUS` tops out at 8192 today; twice that leaves
    /// room and still bounds what a list can cost: whatever its length, a list is parsed into
    /// at most this many ids (a 16 KB `cpu/online` of overlapping ranges once took 50 s and
    /// 780 MB when each range was expanded before the total was bounded).
    pub const LIMIT: u32 = 16_384;

    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parse the kernel's list format: `0-3,8-11`, `5`, an empty string, with an optional
    /// trailing newline. Also accepts the `0-7:2` stride form the kernel allows for
    /// `isolcpus`-style lists. Ids must be below [`Self::LIMIT`]; the pieces go straight into a
    /// bitmap, so overlapping or repeated ranges cost nothing more.
    pub fn parse(text: &str) -> Result<Self, CpuSetError> {
        let mut bits = vec![0u64; WORDS];
        for piece in pieces(text) {
            let (lo, hi, stride) = piece?;
            if stride == 1 {
                set_range(&mut bits, lo, hi);
            } else {
                for cpu in (lo..=hi).step_by(stride) {
                    bits[cpu as usize / 64] |= 1 << (cpu % 64);
                }
            }
        }
        Ok(Self(
            bits.iter()
                .enumerate()
                .flat_map(|(w, &word)| {
                    (0..64u32)
                        .filter(move |b| word & (1 << b) != 0)
                        .map(move |b| u32::try_from(w).unwrap_or(u32::MAX) * 64 + b)
                })
                .collect(),
        ))
    }

    /// Parse a list keeping the order in which CPUs are written (`6,18,7,19`): the order is
    /// meaningful for explicit vCPU pins. Duplicates are kept; at most [`Self::LIMIT`] entries.
    pub fn parse_ordered(text: &str) -> Result<Vec<u32>, CpuSetError> {
        let mut out = Vec::new();
        for piece in pieces(text) {
            let (lo, hi, stride) = piece?;
            let count = (hi - lo) as usize / stride + 1;
            if out.len() + count > Self::LIMIT as usize {
                return Err(CpuSetError::TooMany);
            }
            out.extend((lo..=hi).step_by(stride));
        }
        Ok(out)
    }

    /// Whether the set holds `cpu`.
    pub fn contains(&self, cpu: u32) -> bool {
        self.0.contains(&cpu)
    }

    /// Add a CPU; returns whether it was new.
    pub fn insert(&mut self, cpu: u32) -> bool {
        self.0.insert(cpu)
    }

    /// How many CPUs.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The CPUs in ascending order.
    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.0.iter().copied()
    }

    /// The lowest CPU, if any.
    pub fn first(&self) -> Option<u32> {
        self.0.first().copied()
    }

    /// CPUs in both sets.
    #[must_use]
    pub fn intersection(&self, other: &Self) -> Self {
        self.0.intersection(&other.0).copied().collect()
    }

    /// CPUs in either set.
    #[must_use]
    pub fn union(&self, other: &Self) -> Self {
        self.0.union(&other.0).copied().collect()
    }

    /// CPUs in `self` but not in `other`.
    #[must_use]
    pub fn difference(&self, other: &Self) -> Self {
        self.0.difference(&other.0).copied().collect()
    }

    /// Whether every CPU of `self` is in `other`.
    pub fn is_subset(&self, other: &Self) -> bool {
        self.0.is_subset(&other.0)
    }

    /// Whether the sets share a CPU.
    pub fn intersects(&self, other: &Self) -> bool {
        !self.0.is_disjoint(&other.0)
    }
}

/// The pieces of a list between commas, each as `(lo, hi, stride)` with `lo <= hi <
/// CpuSet::LIMIT` and a stride of at least 1.
fn pieces(text: &str) -> impl Iterator<Item = Result<(u32, u32, usize), CpuSetError>> + '_ {
    text.trim()
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(piece)
}

/// One piece: `5`, `4-7` or `0-7:2`.
fn piece(piece: &str) -> Result<(u32, u32, usize), CpuSetError> {
    let bad = || CpuSetError::BadPiece {
        piece: piece.to_owned(),
    };
    let (range, stride) = match piece.split_once(':') {
        Some((range, stride)) => (range, stride.parse::<usize>().map_err(|_| bad())?),
        None => (piece, 1),
    };
    if stride == 0 {
        return Err(bad());
    }
    let (lo, hi) = if let Some((lo, hi)) = range.split_once('-') {
        (
            lo.trim().parse::<u32>().map_err(|_| bad())?,
            hi.trim().parse::<u32>().map_err(|_| bad())?,
        )
    } else {
        let n = range.parse::<u32>().map_err(|_| bad())?;
        (n, n)
    };
    if hi < lo {
        return Err(CpuSetError::Backwards {
            piece: piece.to_owned(),
        });
    }
    if hi >= CpuSet::LIMIT {
        return Err(CpuSetError::TooLarge {
            piece: piece.to_owned(),
        });
    }
    Ok((lo, hi, stride))
}

/// Set the bits `lo..=hi` (both below [`CpuSet::LIMIT`]) a word at a time.
fn set_range(bits: &mut [u64], lo: u32, hi: u32) {
    let mut cpu = lo;
    while cpu <= hi {
        let word = cpu as usize / 64;
        let from = cpu % 64;
        let to = if hi / 64 == cpu / 64 { hi % 64 } else { 63 };
        let width = to - from + 1;
        let mask = if width == 64 {
            u64::MAX
        } else {
            ((1u64 << width) - 1) << from
        };
        bits[word] |= mask;
        cpu += width;
    }
}

impl FromIterator<u32> for CpuSet {
    fn from_iter<I: IntoIterator<Item = u32>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

impl<'a> IntoIterator for &'a CpuSet {
    type Item = u32;
    type IntoIter = std::iter::Copied<std::collections::btree_set::Iter<'a, u32>>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().copied()
    }
}

impl fmt::Display for CpuSet {
    /// The kernel's canonical form: ascending, consecutive runs merged (`0-2,8`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut iter = self.0.iter().copied().peekable();
        let mut first = true;
        while let Some(start) = iter.next() {
            let mut end = start;
            while iter.peek() == Some(&(end + 1)) {
                end += 1;
                iter.next();
            }
            if !first {
                f.write_str(",")?;
            }
            first = false;
            if start == end {
                write!(f, "{start}")?;
            } else {
                write!(f, "{start}-{end}")?;
            }
        }
        Ok(())
    }
}

impl serde::Serialize for CpuSet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kernel_lists() {
        let cases: &[(&str, &[u32])] = &[
            ("0-3,8-11\n", &[0, 1, 2, 3, 8, 9, 10, 11]),
            ("5", &[5]),
            ("", &[]),
            ("\n", &[]),
            ("0,5", &[0, 5]),
            ("0-7:2", &[0, 2, 4, 6]),
            (" 1 , 3-4 ", &[1, 3, 4]),
        ];
        for (text, want) in cases {
            let got: Vec<u32> = CpuSet::parse(text).unwrap().iter().collect();
            assert_eq!(&got, want, "parsing {text:?}");
        }
    }

    #[test]
    fn ordered_parse_keeps_written_order() {
        assert_eq!(
            CpuSet::parse_ordered("6,18,7,19").unwrap(),
            vec![6, 18, 7, 19]
        );
    }

    #[test]
    fn rejects_garbage() {
        assert!(matches!(
            CpuSet::parse("a-b"),
            Err(CpuSetError::BadPiece { .. })
        ));
        assert!(matches!(
            CpuSet::parse("7-3"),
            Err(CpuSetError::Backwards { .. })
        ));
        assert!(matches!(
            CpuSet::parse("0-4294967295"),
            Err(CpuSetError::TooLarge { .. })
        ));
        assert!(matches!(
            CpuSet::parse("0-7:0"),
            Err(CpuSetError::BadPiece { .. })
        ));
    }

    #[test]
    fn a_list_is_bounded_in_total_not_per_range() {
        // Found by fuzzing: `0-65536,65537` printed as `0-65537`, a range the parser refused.
        assert!(matches!(
            CpuSet::parse("0-65536,65537"),
            Err(CpuSetError::TooLarge { .. })
        ));
        assert!(matches!(
            CpuSet::parse("16384"),
            Err(CpuSetError::TooLarge { .. })
        ));
        let top = CpuSet::parse("16383").unwrap();
        assert_eq!(top.to_string(), "16383");
        // A pathological 16 KB `cpu/online`: every range overlaps, the set stays small.
        let online = "0-16383,".repeat(2048);
        let all = CpuSet::parse(&online).unwrap();
        assert_eq!(all.len(), CpuSet::LIMIT as usize);
        assert_eq!(all.to_string(), "0-16383");
        let strided = CpuSet::parse(&"1-16383:2,".repeat(1600)).unwrap();
        assert_eq!(strided.len(), 8192);
        // An ordered list keeps duplicates, so its length is bounded instead.
        assert_eq!(CpuSet::parse_ordered(&online), Err(CpuSetError::TooMany));
        assert_eq!(CpuSet::parse_ordered("0-16383").unwrap().len(), 16384);
    }

    proptest::proptest! {
        /// Any set of valid ids prints in a form that reads back as the same set.
        #[test]
        fn the_canonical_form_reads_back(
            cpus in proptest::collection::btree_set(0..CpuSet::LIMIT, 0..200),
            runs in proptest::collection::vec((0..CpuSet::LIMIT, 0u32..300), 0..8),
        ) {
            let mut set: CpuSet = cpus.into_iter().collect();
            for (start, len) in runs {
                for cpu in start..(start + len).min(CpuSet::LIMIT) {
                    set.insert(cpu);
                }
            }
            let printed = set.to_string();
            proptest::prop_assert_eq!(CpuSet::parse(&printed), Ok(set.clone()));
            proptest::prop_assert_eq!(CpuSet::parse_ordered(&printed).map(|v| v.len()), Ok(set.len()));
        }

        /// Whatever list text parses prints back to the same set.
        #[test]
        fn what_parses_prints_back(text in "[0-9]{0,6}(-[0-9]{1,6}(:[0-9]{1,3})?)?(,[0-9]{1,6}(-[0-9]{1,6})?){0,4}") {
            if let Ok(set) = CpuSet::parse(&text) {
                proptest::prop_assert_eq!(CpuSet::parse(&set.to_string()), Ok(set));
            }
        }
    }

    #[test]
    fn displays_canonically() {
        let set: CpuSet = [0, 1, 2, 8, 10, 11].into_iter().collect();
        assert_eq!(set.to_string(), "0-2,8,10-11");
        assert_eq!(CpuSet::new().to_string(), "");
        assert_eq!(CpuSet::parse("3,2,1").unwrap().to_string(), "1-3");
    }
}
