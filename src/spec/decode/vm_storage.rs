//! Decoding of a VM's `disk` nodes (a `cdrom` is one path, read in `vm`).

use super::{At, Decoder};
use crate::spec::{Disk, DiskBus, Spanned};

impl Decoder {
    pub(super) fn disk(&mut self, at: &At<'_>) -> Option<Disk> {
        let path = at.arg(0).and_then(|e| self.path(e, "disk path"))?;
        let bus = match at.prop("bus") {
            Some(e) => self.choice(
                e,
                "disk bus",
                &[
                    ("virtio-blk", DiskBus::VirtioBlk),
                    ("virtio-scsi", DiskBus::VirtioScsi),
                    ("sata", DiskBus::Sata),
                ],
            )?,
            None => Spanned::new(DiskBus::VirtioBlk, at.span()),
        };
        let word =
            |d: &mut Self, prop: &str, what: &str, choices: &[&str]| -> Option<Spanned<String>> {
                let e = at.prop(prop)?;
                let pairs: Vec<(&str, &str)> = choices.iter().map(|c| (*c, *c)).collect();
                d.choice(e, what, &pairs)
                    .map(|s| Spanned::new(s.value.to_owned(), s.span))
            };
        let cache = word(
            self,
            "cache",
            "cache mode",
            &["none", "writethrough", "writeback", "directsync", "unsafe"],
        );
        let io = word(self, "io", "I/O mode", &["threads", "native", "io_uring"]);
        let discard = word(self, "discard", "discard mode", &["unmap", "ignore"]);
        let format = word(self, "format", "image format", &["raw", "qcow2"]);
        let queues = at
            .prop("queues")
            .and_then(|e| self.u32_value(e, "queue count", 1, 256));
        let iothread = at
            .prop("iothread")
            .and_then(|e| self.u32_value(e, "I/O thread number", 1, 64));
        let flag = |d: &mut Self, prop: &str| match at.prop(prop) {
            Some(e) => d.boolean(e, prop).unwrap_or(false),
            None => false,
        };
        let readonly = flag(self, "readonly");
        let shareable = flag(self, "shareable");
        Some(Disk {
            path,
            readonly,
            shareable,
            bus,
            cache,
            io,
            discard,
            queues,
            iothread,
            format,
        })
    }
}
