//! `<memory>`/`<memoryBacking>` (size, hugepages) and `<numatune>` (where the guest's memory
//! lives on a multi-node host).

use super::xml::Xml;
use crate::check::Context;
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
/// (memory on the far node is slower, and the guest cannot know which it got).
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
    let Some(node) = placement.node else { return };
    x.open("numatune", &[], |x| {
        x.empty(
            "memory",
            &[("mode", "strict"), ("nodeset", &node.to_string())],
        );
    });
}
