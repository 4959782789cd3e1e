//! ## What it does
//! Reports a vCPU count that does not match the guest topology (`vcpus` must be a multiple of
//! `threads` × `sockets`) or the pinning (one host CPU per vCPU), and warns when the guest
//! claims SMT threads on a host core that has a different number.
//!
//! ## Why
//! libvirt rejects a topology that does not multiply out, and a pin list of the wrong length
//! leaves vCPUs floating or host CPUs idle. A guest told its cores have two threads schedules
//! as if pairs share a core; that is only true when they are pinned to real siblings.
//!
//! ## Example
//! ```kdl
//! cpu { vcpus 8 threads=2; pin cores="6-11" }   // six cores with siblings are 12 CPUs
//! ```
//! Write `vcpus 12`, or pin four cores (`cores="8-11"`).

use crate::check::Context;
use crate::diag::{Code, Diagnostic, Diagnostics};
use crate::spec::Pin;

pub(super) const CODE: Code = Code("cpu/vcpu-count");

pub(super) fn run(cx: &Context<'_>, out: &mut Diagnostics) {
    for vm in &cx.spec.vms {
        let cpu = &vm.cpu;
        let vcpus = cpu.vcpus.value;
        let per_socket_core = cpu.threads.value.max(1) * cpu.sockets.value.max(1);
        if vcpus % per_socket_core != 0 {
            out.push(
                Diagnostic::error(CODE, format!("{vcpus} vCPUs cannot be laid out as {} socket(s) of cores with {} thread(s)", cpu.sockets.value, cpu.threads.value))
                    .at(cpu.vcpus.span, "does not divide")
                    .help(format!("make vcpus a multiple of {per_socket_core}")),
            );
        }
        if let (Some(pins), Some(pin)) = (cx.vm_pins(vm), &cpu.pin) {
            let n = u32::try_from(pins.len()).unwrap_or(u32::MAX);
            if n != vcpus {
                let what = match &pin.value {
                    Pin::Cores(_) => {
                        format!("the pinned cores with their SMT siblings are {n} CPUs")
                    }
                    _ => format!("the pin list names {n} CPUs"),
                };
                out.push(
                    Diagnostic::error(CODE, format!("{what}, but the VM has {vcpus} vCPUs"))
                        .at(pin.span, format!("{n} CPUs"))
                        .host(format!(
                            "pinned CPUs: {}",
                            pins.iter()
                                .map(u32::to_string)
                                .collect::<Vec<_>>()
                                .join(",")
                        ))
                        .help(format!("write vcpus {n}, or pin {vcpus} CPUs")),
                );
            }
            if let Some(first) = pins.first().and_then(|c| cx.host.cpu(*c)) {
                let host_threads = u32::try_from(first.siblings.len()).unwrap_or(1);
                if cpu.threads.value > 1 && host_threads != cpu.threads.value {
                    out.push(
                        Diagnostic::warning(CODE, format!("the guest is told its cores have {} threads, but the host's have {host_threads}", cpu.threads.value))
                            .at(cpu.threads.span, "guest threads")
                            .host(format!("CPU {} has siblings {}", first.id, first.siblings))
                            .help(format!("write threads={host_threads}")),
                    );
                }
            }
        }
    }
}
