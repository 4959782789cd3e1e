//! The CPU map under a spec, for people: every physical core with the VM (or the host) that
//! uses it, then each VM's placement with the reasons it was chosen. Shown by `passplan host
//! --spec` and by `plan` when a VM is placed automatically.

use std::collections::BTreeMap;
use std::io::Write;

use super::{PlaceError, Placement};
use crate::host::HostFacts;
use crate::host::render::cores;
use crate::model::CpuSet;

/// Every VM's placement (or why it cannot be placed), by VM name.
pub type Placements = BTreeMap<String, Result<Placement, PlaceError>>;

/// Who uses a physical core under a spec's placements.
fn core_owner(placements: &Placements, core: &CpuSet) -> String {
    let mut helpers = Vec::new();
    for (name, placement) in placements {
        let Ok(p) = placement else { continue };
        if p.cores.intersects(core) {
            return name.clone();
        }
        if p.emulator.intersects(core) || p.iothreads.intersects(core) {
            helpers.push(name.as_str());
        }
    }
    if helpers.is_empty() {
        "host".to_owned()
    } else {
        format!("host+emu:{}", helpers.join(","))
    }
}

/// The CPU map under a spec: every core with its user, then each VM's placement and reasons.
pub fn write_placements(
    host: &HostFacts,
    spec_name: &str,
    placements: &Placements,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    writeln!(out, "CPU placement for {spec_name}")?;
    if placements.is_empty() {
        writeln!(out, "  no VM is pinned")?;
        return Ok(());
    }
    let cores = cores(host);
    let mut tree: BTreeMap<Option<u32>, BTreeMap<String, Vec<CpuSet>>> = BTreeMap::new();
    for cpus in cores.values() {
        let Some(first) = cpus.iter().find(|c| c.online) else {
            continue;
        };
        let set: CpuSet = cpus.iter().filter(|c| c.online).map(|c| c.id).collect();
        let l3 = first
            .l3
            .as_ref()
            .map_or_else(|| "no L3".to_owned(), |s| format!("L3 {s}"));
        tree.entry(first.node)
            .or_default()
            .entry(l3)
            .or_default()
            .push(set);
    }
    for (node, domains) in &tree {
        match node {
            Some(n) => writeln!(out, "  node {n}")?,
            None => writeln!(out, "  (no NUMA information)")?,
        }
        let mut domains: Vec<_> = domains.iter().collect();
        domains.sort_by_key(|(_, cores)| cores.iter().filter_map(CpuSet::first).min());
        for (l3, cores) in domains {
            let mut cores = cores.clone();
            cores.sort_by_key(CpuSet::first);
            let list: Vec<String> = cores
                .iter()
                .map(|set| format!("[{set} {}]", core_owner(placements, set)))
                .collect();
            writeln!(out, "    {l3:<18} {}", list.join(" "))?;
        }
    }
    for (name, placement) in placements {
        writeln!(out, "  vm {name}")?;
        match placement {
            Ok(p) => {
                let guest: Vec<String> = p.vcpus.iter().map(u32::to_string).collect();
                writeln!(out, "    guest      vCPU 0.. → {}", guest.join(","))?;
                let show = |s: &CpuSet| {
                    if s.is_empty() {
                        "not pinned".to_owned()
                    } else {
                        s.to_string()
                    }
                };
                writeln!(out, "    emulator   {}", show(&p.emulator))?;
                writeln!(out, "    iothreads  {}", show(&p.iothreads))?;
                if let Some(node) = p.node {
                    writeln!(out, "    memory     NUMA node {node}")?;
                }
                if !p.cells.is_empty() {
                    let cells: Vec<String> = p
                        .cells
                        .iter()
                        .map(|c| format!("vCPUs {} → node {}", c.vcpus, c.node))
                        .collect();
                    writeln!(out, "    numa cells {}", cells.join("; "))?;
                }
                let t = p.topology;
                writeln!(
                    out,
                    "    topology   {} socket(s) × {} cores × {} threads{}",
                    t.sockets,
                    t.cores,
                    t.threads,
                    if p.cache_passthrough {
                        ", cache passthrough"
                    } else {
                        ""
                    }
                )?;
                for reason in &p.reasons {
                    writeln!(out, "    - {reason}")?;
                }
            }
            Err(e) => writeln!(out, "    cannot be placed: {e} (cpu/auto-unsatisfiable)")?,
        }
    }
    Ok(())
}
