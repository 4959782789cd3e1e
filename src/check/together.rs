//! Which VMs may run at the same time, for the rules that add up what VMs use together (pins,
//! disks, memory).
//!
//! The spec says nothing about when VMs run, so any two may run together — except two that take
//! a common PCI function: libvirt refuses to start the second while the first holds the device,
//! which is how people share one GPU between two guests on purpose.

use std::collections::BTreeSet;

use super::Context;
use crate::model::PciAddress;
use crate::spec::Vm;

/// The PCI functions of each VM, in spec order, computed once per rule.
pub struct Together<'a> {
    vms: Vec<(&'a Vm, BTreeSet<PciAddress>)>,
}

impl<'a> Together<'a> {
    /// The VMs of the spec and what they take.
    pub fn new(cx: &Context<'a>) -> Self {
        Self {
            vms: cx
                .spec
                .vms
                .iter()
                .map(|vm| (vm, cx.vm_functions(vm)))
                .collect(),
        }
    }

    /// Whether VMs `a` and `b` (indices in spec order) may run at the same time: different VMs
    /// that share no passed PCI function.
    pub fn may(&self, a: usize, b: usize) -> bool {
        a != b && self.vms[a].1.is_disjoint(&self.vms[b].1)
    }

    /// The heaviest set of VMs that may all run at once, by `weight`, as indices in spec order.
    /// Exact for the handful of VMs a host has; beyond 20 VMs every VM counts (an upper bound).
    pub fn heaviest(&self, weight: impl Fn(&Vm) -> u64) -> Vec<usize> {
        let weights: Vec<u64> = self.vms.iter().map(|(vm, _)| weight(vm)).collect();
        let n = weights.len();
        if n > 20 {
            return (0..n).collect();
        }
        let mut best = (0u64, Vec::new());
        let mut current = Vec::new();
        self.search(0, &weights, &mut current, 0, &mut best);
        best.1
    }

    fn search(
        &self,
        next: usize,
        weights: &[u64],
        current: &mut Vec<usize>,
        sum: u64,
        best: &mut (u64, Vec<usize>),
    ) {
        if sum > best.0 || (sum == best.0 && best.1.is_empty() && !current.is_empty()) {
            *best = (sum, current.clone());
        }
        // What is left could not beat the best: prune.
        let rest: u64 = weights[next..].iter().sum();
        if next == weights.len() || sum.saturating_add(rest) <= best.0 {
            return;
        }
        for i in next..weights.len() {
            if current.iter().all(|&c| self.may(c, i)) {
                current.push(i);
                self.search(
                    i + 1,
                    weights,
                    current,
                    sum.saturating_add(weights[i]),
                    best,
                );
                current.pop();
            }
        }
    }
}
