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
    /// A range is implausibly large (guards against `0-4294967295`).
    #[error("the range `{piece}` is larger than any machine (at most 65536 CPUs)")]
    TooLarge {
        /// The offending piece.
        piece: String,
    },
}

/// The most CPUs a single range may name; Linux's `NR_CPUS` tops out at 8192 today.
const MAX_RANGE: u32 = 65_536;

impl CpuSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parse the kernel's list format: `0-3,8-11`, `5`, an empty string, with an optional
    /// trailing newline. Also accepts the `0-7:2` stride form the kernel allows for
    /// `isolcpus`-style lists.
    pub fn parse(text: &str) -> Result<Self, CpuSetError> {
        Self::parse_ordered(text).map(|cpus| cpus.into_iter().collect())
    }

    /// Parse a list keeping the order in which CPUs are written (`6,18,7,19`): the order is
    /// meaningful for explicit vCPU pins. Duplicates are kept.
    pub fn parse_ordered(text: &str) -> Result<Vec<u32>, CpuSetError> {
        let mut out = Vec::new();
        for piece in text.trim().split(',') {
            let piece = piece.trim();
            if piece.is_empty() {
                continue;
            }
            let bad = || CpuSetError::BadPiece {
                piece: piece.to_owned(),
            };
            let (range, stride) = match piece.split_once(':') {
                Some((range, stride)) => (range, stride.parse::<u32>().map_err(|_| bad())?),
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
            if hi - lo > MAX_RANGE {
                return Err(CpuSetError::TooLarge {
                    piece: piece.to_owned(),
                });
            }
            out.extend((lo..=hi).step_by(stride as usize));
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
    fn displays_canonically() {
        let set: CpuSet = [0, 1, 2, 8, 10, 11].into_iter().collect();
        assert_eq!(set.to_string(), "0-2,8,10-11");
        assert_eq!(CpuSet::new().to_string(), "");
        assert_eq!(CpuSet::parse("3,2,1").unwrap().to_string(), "1-3");
    }
}
