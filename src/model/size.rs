//! Byte sizes as people write them in a spec (`16GiB`, `2M`, `1G`) and as the kernel reports
//! them (`2048 kB`).

use std::fmt;
use std::str::FromStr;

/// A size in bytes. Invariant: none (zero is a valid size to parse; rules reject it where it
/// makes no sense).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ByteSize(pub u64);

/// Why a size did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a size: write a whole number with a unit, like `16GiB`, `2MiB` or `1G`")]
pub struct ByteSizeError {
    /// The offending text.
    pub text: String,
}

const KIB: u64 = 1024;

impl ByteSize {
    /// From kibibytes (the kernel's `kB`).
    pub const fn from_kib(kib: u64) -> Self {
        Self(kib * KIB)
    }

    /// In kibibytes, rounded down.
    pub const fn kib(self) -> u64 {
        self.0 / KIB
    }

    /// A rounded, human-readable form for display only (`23.5 GiB`); never parse it back.
    pub fn approx(self) -> String {
        let units = [
            ("TiB", KIB.pow(4)),
            ("GiB", KIB.pow(3)),
            ("MiB", KIB.pow(2)),
            ("KiB", KIB),
        ];
        for (name, mult) in units {
            if self.0 >= mult {
                #[allow(clippy::cast_precision_loss, reason = "display only, one decimal")]
                let value = self.0 as f64 / mult as f64;
                return if self.0.is_multiple_of(mult) {
                    format!("{} {name}", self.0 / mult)
                } else {
                    format!("{value:.1} {name}")
                };
            }
        }
        format!("{} B", self.0)
    }
}

impl FromStr for ByteSize {
    type Err = ByteSizeError;

    /// Units are binary whatever their spelling (`G`, `GB`, `GiB` are all 2^30): memory and
    /// page sizes are never decimal, and the kernel's own `kB` means KiB.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let err = || ByteSizeError {
            text: text.to_owned(),
        };
        let t = text.trim();
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        let n: u64 = num.parse().map_err(|_| err())?;
        let mult = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 1,
            "k" | "kb" | "kib" => KIB,
            "m" | "mb" | "mib" => KIB * KIB,
            "g" | "gb" | "gib" => KIB * KIB * KIB,
            "t" | "tb" | "tib" => KIB * KIB * KIB * KIB,
            _ => return Err(err()),
        };
        n.checked_mul(mult).map(Self).ok_or_else(err)
    }
}

impl fmt::Display for ByteSize {
    /// The largest binary unit that divides the size exactly (`16GiB`, `2MiB`, `1536MiB`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let units = [
            ("TiB", KIB.pow(4)),
            ("GiB", KIB.pow(3)),
            ("MiB", KIB.pow(2)),
            ("KiB", KIB),
        ];
        for (name, mult) in units {
            if self.0 >= mult && self.0.is_multiple_of(mult) {
                return write!(f, "{}{name}", self.0 / mult);
            }
        }
        write!(f, "{}B", self.0)
    }
}

impl serde::Serialize for ByteSize {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_spec_and_kernel_spellings() {
        let g = 1u64 << 30;
        let cases = [
            ("16GiB", 16 * g),
            ("16G", 16 * g),
            ("16 GB", 16 * g),
            ("2M", 2 << 20),
            ("2048 kB", 2 << 20),
            ("1g", g),
        ];
        for (text, want) in cases {
            assert_eq!(text.parse::<ByteSize>().unwrap().0, want, "{text}");
        }
        for bad in ["", "GiB", "16 parsecs", "-1G", "99999999999999999999T"] {
            assert!(bad.parse::<ByteSize>().is_err(), "{bad}");
        }
    }

    #[test]
    fn displays_in_largest_exact_unit() {
        assert_eq!(ByteSize(16 << 30).to_string(), "16GiB");
        assert_eq!(ByteSize(1536 << 20).to_string(), "1536MiB");
        assert_eq!(ByteSize(1000).to_string(), "1000B");
        assert_eq!(ByteSize(24_682_416 * 1024).approx(), "23.5 GiB");
        assert_eq!(ByteSize(32 << 30).approx(), "32 GiB");
    }

    proptest::proptest! {
        /// Every size prints in its largest exact unit and reads back.
        #[test]
        fn sizes_read_back(bytes: u64, shift in 0u32..40) {
            for size in [ByteSize(bytes), ByteSize(bytes >> shift << shift)] {
                proptest::prop_assert_eq!(size.to_string().parse::<ByteSize>(), Ok(size));
            }
        }

        /// What parses as a size prints back to the same size.
        #[test]
        fn parsed_sizes_read_back(text in "[0-9]{1,20} ?([kKmMgGtT]([iI]?[bB])?|[bB])?") {
            if let Ok(size) = text.parse::<ByteSize>() {
                proptest::prop_assert_eq!(size.to_string().parse::<ByteSize>(), Ok(size));
            }
        }
    }
}
