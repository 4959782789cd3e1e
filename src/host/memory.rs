//! Memory: `/proc/meminfo` totals and the hugepage pools under `/sys/kernel/mm/hugepages`.

use super::Memory;
use super::cpu::kib_value;
use super::sysroot::Root;
use super::{ByteSize, HugepagePool};

const HUGEPAGES_DIR: &str = "/sys/kernel/mm/hugepages";

/// `/proc/meminfo` text → total, available and default hugepage size. Pools are filled in by
/// [`discover`].
pub(super) fn parse_meminfo(text: &str) -> Memory {
    let mut memory = Memory::default();
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        match key.trim() {
            "MemTotal" => memory.total = kib_value(value).unwrap_or_default(),
            "MemAvailable" => memory.available = kib_value(value),
            "Hugepagesize" => memory.default_hugepage = kib_value(value),
            _ => {}
        }
    }
    memory
}

/// `hugepages-2048kB` → the page size.
fn pool_size(name: &str) -> Option<ByteSize> {
    kib_value(name.strip_prefix("hugepages-")?.strip_suffix("kB")?)
}

/// Memory facts; a missing `/proc/meminfo` leaves zero totals.
pub(super) fn discover(root: &Root) -> Memory {
    let mut memory = root
        .read("/proc/meminfo")
        .map(|t| parse_meminfo(&t))
        .unwrap_or_default();
    let mut pools: Vec<HugepagePool> = root
        .list(HUGEPAGES_DIR)
        .iter()
        .filter_map(|name| {
            let size = pool_size(name)?;
            let dir = format!("{HUGEPAGES_DIR}/{name}");
            Some(HugepagePool {
                size,
                total: root.read_u64(&format!("{dir}/nr_hugepages")).unwrap_or(0),
                free: root.read_u64(&format!("{dir}/free_hugepages")).unwrap_or(0),
            })
        })
        .collect();
    pools.sort_by_key(|p| p.size);
    memory.hugepages = pools;
    memory
}

#[cfg(test)]
mod tests {
    use super::{parse_meminfo, pool_size};

    #[test]
    fn meminfo_fields() {
        let text = "MemTotal:       65768012 kB\nMemFree:        1234 kB\nMemAvailable:   40000000 kB\n\
                    HugePages_Total:       0\nHugepagesize:       2048 kB\nbroken line\n";
        let m = parse_meminfo(text);
        assert_eq!(m.total.0, 65_768_012 * 1024);
        assert_eq!(m.available.map(|b| b.0), Some(40_000_000 * 1024));
        assert_eq!(m.default_hugepage.map(|b| b.0), Some(2 * 1024 * 1024));
        assert!(parse_meminfo("").available.is_none());
    }

    #[test]
    fn pool_names() {
        assert_eq!(pool_size("hugepages-1048576kB").map(|b| b.0), Some(1 << 30));
        assert_eq!(pool_size("hugepages-2048kB").map(|b| b.0), Some(2 << 20));
        assert!(pool_size("hugepages-kB").is_none());
        assert!(pool_size("other").is_none());
    }
}
