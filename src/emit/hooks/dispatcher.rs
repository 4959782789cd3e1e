//! `/etc/libvirt/hooks/qemu`: the one hook libvirt calls, which runs the per-VM tree
//! `qemu.d/<vm>/<op>/<subop>/*`.
//!
//! Its content depends on nothing in the spec but the header's origin, so every host gets the
//! same dispatcher. It finds the tree next to itself (`readlink -f "$0"`), which is
//! `/etc/libvirt/hooks` on a host and a temporary directory in tests.

use crate::desired::{Artifact, Ownership, Trigger};

use super::{HOOKS_DIR, header};

/// The dispatcher artifact; `from` is where the first VM with hooks is declared.
pub(super) fn artifact(from: &str) -> Artifact {
    Artifact {
        path: format!("{HOOKS_DIR}/qemu"),
        content: script(from),
        mode: 0o755,
        ownership: Ownership::Owned,
        triggers: vec![Trigger::LibvirtReload],
        reason: format!(
            "libvirt calls this hook for every VM; it runs the per-VM scripts under \
             {HOOKS_DIR}/qemu.d/<vm>/<op>/<subop>/ ({from}). The daemon caches whether the qemu \
             hook exists, so libvirtd (or virtqemud) must reload to notice a newly installed one"
        ),
    }
}

/// The dispatcher script.
fn script(from: &str) -> String {
    let mut s = header(
        from,
        "libvirt qemu hook dispatcher",
        &[
            "libvirt runs this as `qemu <vm> <op> <subop> <extra>` with the domain XML on stdin. It",
            "runs every executable regular file in qemu.d/<vm>/<op>/<subop>/ in name order, with the",
            "same arguments and the same XML on stdin. Files ending in .bak or ~ and dotfiles are",
            "skipped. At prepare and start the first failure stops the dispatch and fails the hook,",
            "which aborts the VM's start; at later phases every script runs, failures are logged and",
            "the hook fails at the end. Scripts' stdout goes to stderr (libvirt's log), so the",
            "filtering operations (migrate, restore) always keep their XML unchanged.",
            "",
            "Never call back into libvirt (its shell or any other client) from here or from a script",
            "it runs: the daemon waits for this hook, and a call back into it deadlocks.",
        ],
    );
    s.push_str(BODY);
    s
}

/// Everything after the header; no value from the spec appears in it.
const BODY: &str = r#"# Byte order for the glob below, whatever the caller's locale.
export LC_ALL=C

if (( $# < 3 )); then
    echo "passplan: usage: $0 <vm> <op> <subop> [<extra>]" >&2
    exit 2
fi
vm=$1
op=$2
subop=$3

# The VM name becomes a path: refuse anything that could leave qemu.d/ or be read as an
# option. Such a VM cannot be one passplan manages (its names are safe), so it has no hooks
# here and its start must not be blocked: exit 0.
case $vm in
    '' | .* | -* | */* | *..*)
        echo "passplan: not dispatching hooks for unsafe VM name '$vm'" >&2
        exit 0
        ;;
esac
if [[ ! $op =~ ^[a-z]+$ || ! $subop =~ ^[a-z-]+$ ]]; then
    echo "passplan: not dispatching unknown hook phase '$op' '$subop'" >&2
    exit 0
fi

self=$(readlink -f -- "$0")
hooks_dir=${self%/*}
dir="$hooks_dir/qemu.d/$vm/$op/$subop"
# No tree for this VM or phase (VMs passplan does not manage): nothing to do.
if [[ ! -d $dir ]]; then
    exit 0
fi

# libvirt writes the XML once; every script needs all of it.
xml=$(mktemp)
trap 'rm -f -- "$xml"' EXIT
cat > "$xml"

failed=0
for hook in "$dir"/*; do
    name=${hook##*/}
    case $name in
        .* | *.bak | *~) continue ;;
    esac
    # Also covers an empty directory, where the glob stays unexpanded.
    if [[ ! -f $hook || ! -x $hook ]]; then
        continue
    fi
    status=0
    "$hook" "$@" < "$xml" >&2 || status=$?
    if (( status != 0 )); then
        echo "passplan: hook $hook failed with exit status $status" >&2
        case $op in
            prepare | start)
                echo "passplan: not running the remaining $op $subop hooks of VM '$vm'; its start is aborted" >&2
                exit "$status"
                ;;
        esac
        failed=$status
    fi
done
exit "$failed"
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dispatcher_is_a_reload_triggering_owned_script() {
        let a = artifact("spec.kdl:30");
        assert_eq!(a.path, "/etc/libvirt/hooks/qemu");
        assert_eq!(a.mode, 0o755);
        assert_eq!(a.ownership, Ownership::Owned);
        assert_eq!(a.triggers, vec![Trigger::LibvirtReload]);
        assert!(a.reason.contains("reload"), "{}", a.reason);
        assert!(a.content.starts_with("#!/bin/bash\n# Managed by passplan"));
        assert!(
            a.content
                .contains("# From spec.kdl:30 (libvirt qemu hook dispatcher)")
        );
    }

    #[test]
    fn the_dispatcher_guards_its_inputs() {
        let s = script("s:1");
        for needle in [
            "export LC_ALL=C",
            "'' | .* | -* | */* | *..*)",
            "readlink -f -- \"$0\"",
            "xml=$(mktemp)",
            "trap 'rm -f -- \"$xml\"' EXIT",
            ".* | *.bak | *~) continue",
            "\"$hook\" \"$@\" < \"$xml\" >&2",
            "prepare | start)",
        ] {
            assert!(s.contains(needle), "missing {needle:?}");
        }
    }
}
