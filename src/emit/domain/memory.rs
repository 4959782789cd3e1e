//! `<memory>`/`<memoryBacking>` (size, hugepages) and `<numatune>` (where the guest's memory
//! lives on a multi-node host).

use super::xml::Xml;
use crate::check::Context;
use crate::model::CpuSet;
use crate::pinning::NumaCell;
use crate::spec::{Pin, Vm};

pub(super) fn memory(x: &mut Xml, vm: &Vm, cx: &Context<'_>) {
    let kib = (vm.memory.size.value.0 / 1024).to_string();
    x.text("memory", &[("unit", "KiB")], &kib);
    x.text("currentMemory", &[("unit", "KiB")], &kib);
    // Both dynamic and static hugepages back the guest the same way; they differ only in when
    // the pages are reserved (hooks or kernel command line), which is not the domain's business.
    if let Some(page) = cx.page_size(vm) {
        let size = (page.0 / 1024).to_string();
        x.open("memoryBacking", &[], |x| {
            x.open("hugepages", &[], |x| {
                x.empty("page", &[("size", &size), ("unit", "KiB")]);
            });
        });
    }
}

/// Bind guest memory to the NUMA node an automatic placement chose, on hosts with several nodes
/// (memory on the far node is slower, and the guest cannot know which it got). A guest that
/// spans nodes has one cell per node ([`super::cpu`] declares them); each cell's memory is bound
/// to its own node (`memnode`), and the whole to the nodes together.
pub(super) fn numatune(x: &mut Xml, vm: &Vm, cx: &Context<'_>) {
    if cx.host.numa_nodes.len() < 2
        || !matches!(
            vm.cpu.pin.as_ref().map(|p| &p.value),
            Some(Pin::Auto { .. })
        )
    {
        return;
    }
    let Some(Ok(placement)) = cx.placement(vm) else {
        return;
    };
    if let Some(node) = placement.node {
        x.open("numatune", &[], |x| {
            x.empty(
                "memory",
                &[("mode", "strict"), ("nodeset", &node.to_string())],
            );
        });
        return;
    }
    if placement.cells.is_empty() {
        return;
    }
    let nodeset: CpuSet = placement.cells.iter().map(|c| c.node).collect();
    x.open("numatune", &[], |x| {
        x.empty(
            "memory",
            &[("mode", "strict"), ("nodeset", &nodeset.to_string())],
        );
        for (id, cell) in placement.cells.iter().enumerate() {
            x.empty(
                "memnode",
                &[
                    ("cellid", &id.to_string()),
                    ("mode", "strict"),
                    ("nodeset", &cell.node.to_string()),
                ],
            );
        }
    });
}

/// Each guest NUMA cell's memory in KiB: shared in proportion to its vCPUs, in whole pages
/// (hugepages when the VM uses them, else MiB), the last cell taking the rest so the cells add
/// up to the guest's memory exactly.
pub(super) fn cell_memory_kib(vm: &Vm, cx: &Context<'_>, cells: &[NumaCell]) -> Vec<u64> {
    let total = vm.memory.size.value.kib();
    let page = cx.page_size(vm).map_or(1024, |p| p.kib().max(1));
    let vcpus: u64 = cells
        .iter()
        .map(|c| c.vcpus.len() as u64)
        .sum::<u64>()
        .max(1);
    let mut out = Vec::with_capacity(cells.len());
    let mut given = 0;
    for (i, cell) in cells.iter().enumerate() {
        let kib = if i + 1 == cells.len() {
            total.saturating_sub(given)
        } else {
            let share = u128::from(total) * cell.vcpus.len() as u128 / u128::from(vcpus);
            u64::try_from(share).unwrap_or(total) / page * page
        };
        given += kib;
        out.push(kib);
    }
    out
}
