//! The checker: `Spec` × `HostFacts` → [`Checked`], or diagnostics.
//!
//! Every rule in [`rules`] runs, one rule per file, each pushing its findings; nothing stops at
//! the first problem. A rule never reads the disk: it sees the decoded spec and the host facts
//! through a [`Context`] that also resolves what several rules need (which host function a
//! device is, which functions a VM takes, where its vCPUs are pinned).

pub mod rules;
pub mod together;

use std::collections::{BTreeMap, BTreeSet};

use crate::diag::Diagnostics;
use crate::host::{HostFacts, Passing, PciDevice};
use crate::model::{ByteSize, PciAddress};
use crate::pinning::{Demand, DeviceNode, PlaceError, Placement, Request};
use crate::spec::{Device, HugepageMode, Pin, Spanned, Spec, Vm};

pub use crate::pinning::Placements;

/// A spec that passed every rule against a host. Invariant: every device exists at its address
/// with the stated identity, every IOMMU group given to a VM is given whole, pins name online
/// CPUs, memory fits its page size — later stages may rely on all of it without re-checking.
#[derive(Debug, Clone)]
pub struct Checked {
    /// The spec.
    pub spec: Spec,
    /// The host it was checked against.
    pub host: HostFacts,
    /// CPU placements; every automatic one succeeded (`cpu/auto-unsatisfiable` is an error).
    pub placements: Placements,
    /// Who besides root can change each user hook script (see [`ScriptWriters`]).
    pub scripts: ScriptWriters,
}

/// Who besides root can change each user hook script, by the script as written in the spec
/// (`hook … script=`): "owned by uid 1000", "its directory /home/u is writable by everyone".
/// A rule never reads the disk, so the commands gather this (they stat the scripts under the
/// root) and hand it to [`check_with`]; a script absent from the map is safe or was not looked
/// at (the library's [`check`] looks at none).
pub type ScriptWriters = BTreeMap<String, String>;

impl Checked {
    /// The context rules saw, for emitters that reuse its helpers.
    pub fn context(&self) -> Context<'_> {
        Context {
            spec: &self.spec,
            host: &self.host,
            placements: &self.placements,
            scripts: &self.scripts,
        }
    }
}

/// Run every rule. Returns `Checked` when no rule reported an error.
pub fn check(spec: Spec, host: HostFacts) -> (Option<Checked>, Diagnostics) {
    check_with(spec, host, ScriptWriters::new())
}

/// [`check`], knowing who can change the user's hook scripts.
pub fn check_with(
    spec: Spec,
    host: HostFacts,
    scripts: ScriptWriters,
) -> (Option<Checked>, Diagnostics) {
    let mut out = Diagnostics::new();
    // Computed once, for all VMs together (their cores must be disjoint); rules only read it.
    let placements = placements(&spec, &host);
    {
        let cx = Context {
            spec: &spec,
            host: &host,
            placements: &placements,
            scripts: &scripts,
        };
        for rule in rules::RULES {
            (rule.run)(&cx, &mut out);
        }
    }
    let ok = !out.has_errors();
    (
        ok.then_some(Checked {
            spec,
            host,
            placements,
            scripts,
        }),
        out,
    )
}

/// Place every pinned VM of the spec on the host ([`crate::pinning::place`]).
pub fn placements(spec: &Spec, host: &HostFacts) -> Placements {
    let mut names = Vec::new();
    let mut requests = Vec::new();
    for vm in &spec.vms {
        let Some(pin) = &vm.cpu.pin else { continue };
        let demand = match &pin.value {
            Pin::Auto { reserve, prefer } => Demand::Auto {
                reserve: *reserve,
                prefer: *prefer,
            },
            other => Demand::Explicit(explicit_pins(host, other).unwrap_or_default()),
        };
        names.push(vm.name.value.clone());
        requests.push(Request {
            name: vm.name.value.clone(),
            vcpus: vm.cpu.vcpus.value,
            sockets: vm.cpu.sockets.value,
            threads: vm.cpu.threads.value,
            pin: demand,
            iothreads: vm.cpu.iothreads.as_ref().map_or(0, |i| i.count.value),
            emulator: vm.cpu.emulator.as_ref().map(|e| e.value.clone()),
            iothread_cpus: vm
                .cpu
                .iothreads
                .as_ref()
                .and_then(|i| i.cpus.as_ref())
                .map(|c| c.value.clone()),
            devices: device_nodes(spec, host, vm),
        });
    }
    names
        .into_iter()
        .zip(crate::pinning::place(host, &requests))
        .collect()
}

/// The VM's passed devices on a known NUMA node, GPUs first (then spec order): automatic
/// placement puts the VM on the first one's node when it fits.
fn device_nodes(spec: &Spec, host: &HostFacts, vm: &Vm) -> Vec<DeviceNode> {
    let mut devices: Vec<(bool, DeviceNode)> = vm
        .device_refs()
        .filter_map(|r| spec.device(&r.value))
        .filter_map(|d| {
            let node = host.pci.get(&d.pci.value)?.numa_node?;
            Some((
                !d.is_gpu,
                DeviceNode {
                    name: d.name.value.clone(),
                    node,
                },
            ))
        })
        .collect();
    // Stable: GPUs first, each group in spec order.
    devices.sort_by_key(|(not_gpu, _)| *not_gpu);
    devices.into_iter().map(|(_, d)| d).collect()
}

/// Explicit pins in vCPU order. `cores` names whole physical cores: each named CPU brings its
/// SMT siblings, and vCPUs are laid out core by core so guest thread pairs land on host
/// sibling pairs. `None` for `policy="auto"`.
fn explicit_pins(host: &HostFacts, pin: &Pin) -> Option<Vec<u32>> {
    match pin {
        Pin::Cpus(list) => Some(list.clone()),
        Pin::Cores(set) => {
            let mut seen = BTreeSet::new();
            let mut out = Vec::new();
            for cpu in set.iter() {
                let siblings: Vec<u32> = match host.cpu(cpu) {
                    Some(c) => c.siblings.iter().collect(),
                    None => vec![cpu],
                };
                for s in siblings {
                    if seen.insert(s) {
                        out.push(s);
                    }
                }
            }
            Some(out)
        }
        Pin::Auto { .. } => None,
    }
}

/// What a rule sees.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The decoded spec.
    pub spec: &'a Spec,
    /// The host's facts.
    pub host: &'a HostFacts,
    /// CPU placements of every pinned VM, computed once by [`check`].
    pub placements: &'a Placements,
    /// Who besides root can change each user hook script.
    pub scripts: &'a ScriptWriters,
}

impl<'a> Context<'a> {
    /// A VM's CPU placement: explicit pins echoed, or what `policy="auto"` chose (`Err` when it
    /// could not place the VM). `None` when the VM is not pinned.
    pub fn placement(&self, vm: &Vm) -> Option<&'a Result<Placement, PlaceError>> {
        self.placements.get(&vm.name.value)
    }

    /// The host function at the device's address, when present.
    pub fn host_device(&self, device: &Device) -> Option<&'a PciDevice> {
        self.host.pci.get(&device.pci.value)
    }

    /// The VM's device references resolved to declared devices, with each reference's span.
    pub fn vm_devices(
        &self,
        vm: &'a Vm,
    ) -> impl Iterator<Item = (&'a Spanned<String>, &'a Device)> + 'a {
        let spec = self.spec;
        vm.device_refs()
            .filter_map(move |r| spec.device(&r.value).map(|d| (r, d)))
    }

    /// What passing a declared device takes from the host: the functions named by its
    /// `functions` override, or the host's default ([`HostFacts::passing`]: a device's own
    /// function, a discrete card's slot, an integrated GPU's display function and its HDMI
    /// audio when that audio's group holds no CPU function).
    pub fn passing(&self, device: &Device) -> Passing {
        let address = device.pci.value;
        let mut passing = self.host.passing(address, device.is_gpu);
        if let Some(list) = &device.functions {
            let functions: Vec<PciAddress> = list
                .value
                .iter()
                .map(|&function| PciAddress {
                    function,
                    ..address.slot()
                })
                .collect();
            passing.stays.clear();
            let mut peers = Vec::new();
            for f in &functions {
                for p in self.host.group_peers(*f) {
                    let endpoint = self.host.pci.get(&p).is_some_and(|d| !d.is_bridge());
                    if endpoint && !functions.contains(&p) && !peers.contains(&p) {
                        peers.push(p);
                    }
                }
            }
            peers.sort_unstable();
            passing.group_peers = peers;
            passing.functions = functions;
        }
        passing
    }

    /// The host functions a declared device takes ([`Context::passing`]).
    pub fn device_functions(&self, device: &Device) -> Vec<PciAddress> {
        self.passing(device).functions
    }

    /// Every host function a VM takes: the functions of each device it is given.
    pub fn vm_functions(&self, vm: &'a Vm) -> BTreeSet<PciAddress> {
        let mut out = BTreeSet::new();
        for (_, device) in self.vm_devices(vm) {
            out.extend(self.device_functions(device));
        }
        out
    }

    /// Which VMs take `address` (through any device they are given).
    pub fn takers(&self, address: PciAddress) -> Vec<&'a Vm> {
        self.spec
            .vms
            .iter()
            .filter(|vm| self.vm_functions(vm).contains(&address))
            .collect()
    }

    /// The declared device that takes `address`, if any: the one declared at it, else the
    /// first whose functions include it.
    pub fn declared_at(&self, address: PciAddress) -> Option<&'a Device> {
        self.spec
            .devices
            .iter()
            .find(|d| d.pci.value == address)
            .or_else(|| {
                self.spec
                    .devices
                    .iter()
                    .find(|d| self.device_functions(d).contains(&address))
            })
    }

    /// The spec line that asks for the ACS override, keeping every value the host already
    /// uses (`pcie_acs_override=downstream,multifunction` on the running or configured
    /// command line), else `downstream`.
    pub fn acs_override_fix(&self) -> String {
        let configured = self
            .host
            .boot
            .configured_cmdline
            .as_ref()
            .and_then(|c| c.values("pcie_acs_override").next())
            .map(|v| v.unwrap_or_default().to_owned());
        let values: Vec<String> = self
            .host
            .acs_override()
            .or(configured)
            .unwrap_or_default()
            .split(',')
            .filter(|v| !v.is_empty())
            .map(|v| format!("\"{}\"", v.escape_debug()))
            .collect();
        let values = if values.is_empty() {
            "\"downstream\"".to_owned()
        } else {
            values.join(" ")
        };
        format!("boot {{ acs-override {values} }}")
    }

    /// The host CPUs a VM's vCPUs are pinned to, in vCPU order; `None` when unpinned or when
    /// `policy="auto"` could not place it. For `policy="auto"` these are the chosen CPUs.
    ///
    /// `cores` names whole physical cores: each named CPU brings its SMT siblings, and vCPUs are
    /// laid out core by core so guest thread pairs land on host sibling pairs.
    pub fn vm_pins(&self, vm: &Vm) -> Option<Vec<u32>> {
        let pin = &vm.cpu.pin.as_ref()?.value;
        match pin {
            Pin::Auto { .. } => match self.placement(vm)? {
                Ok(p) => Some(p.vcpus.clone()),
                Err(_) => None,
            },
            _ => explicit_pins(self.host, pin),
        }
    }

    /// The hugepage size a VM uses: its `page-size`, else the host's default, else 2 MiB.
    pub fn page_size(&self, vm: &Vm) -> Option<ByteSize> {
        if vm.memory.hugepages.value == HugepageMode::None {
            return None;
        }
        Some(
            vm.memory
                .page_size
                .as_ref()
                .map(|p| p.value)
                .or(self.host.memory.default_hugepage)
                .unwrap_or(ByteSize(2 << 20)),
        )
    }

    /// One line describing a host function, for the `host:` part of a finding.
    pub fn describe(&self, address: PciAddress) -> String {
        match self.host.pci.get(&address) {
            Some(d) => {
                let driver = d
                    .driver
                    .as_deref()
                    .map(|dr| format!(", driver {dr}"))
                    .unwrap_or_default();
                let group = d
                    .iommu_group
                    .map(|g| format!(", IOMMU group {g}"))
                    .unwrap_or_default();
                format!(
                    "{} [{}] {}{driver}{group}",
                    address.short(),
                    d.id,
                    self.host.describe_pci(d)
                )
            }
            None => format!("{} (no device)", address.short()),
        }
    }
}
