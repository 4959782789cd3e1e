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
            "which aborts the VM's start; at later phases every script runs whatever fails (even",
            "without room for the XML), failures are logged and the hook fails at the end. VM names",
            "follow the spec's rule; others are not passplan's. Scripts' stdout goes to stderr",
            "(libvirt's log), so the",
            "filtering operations (migrate, restore) always keep their XML unchanged.",
            "",
            "Never call back into libvirt (its shell or any other client) from here or from a script",
            "it runs: the daemon waits for this hook, and a call back into it deadlocks.",
        ],
    );
    s.push_str(&BODY.replace("@NAME_RULE@", crate::spec::NAME_RULE));
    s
}

/// Everything after the header; no value from the spec appears in it. `@NAME_RULE@` becomes
/// the decoder's rule for names ([`crate::spec::NAME_RULE`]).
const BODY: &str = r#"# Byte order for the glob below, and ASCII ranges in the name rule, whatever the locale.
export LC_ALL=C

# Messages go to libvirt's log; a closed stderr must not stop a release.
say() {
    echo "passplan: $*" >&2 || true
}

if (( $# < 3 )); then
    say "usage: $0 <vm> <op> <subop> [<extra>]"
    exit 2
fi
vm=$1
op=$2
subop=$3

# At prepare and start a failure aborts the VM's start: it must not run without its setup.
# At every later phase (stopped, release) every script runs whatever fails, so that what
# prepare took (the display, hugepages, governors) is given back; the hook fails at the end.
case $op in
    prepare | start) strict=1 ;;
    *) strict=0 ;;
esac

# The VM name becomes a path. This is the spec's own rule for names, the one passplan's
# decoder applies: a VM outside it cannot be one passplan manages, so it has no tree here and
# its start is not blocked. Every name the rule accepts is dispatched.
name_rule='@NAME_RULE@'
if [[ ! $vm =~ $name_rule ]]; then
    say "not dispatching hooks for VM '$vm': passplan manages no VM of that name"
    exit 0
fi
if [[ ! $op =~ ^[a-z]+$ || ! $subop =~ ^[a-z-]+$ ]]; then
    say "not dispatching unknown hook phase '$op' '$subop'"
    exit 0
fi

self=$(readlink -f -- "$0") || self=$0
hooks_dir=${self%/*}
dir="$hooks_dir/qemu.d/$vm/$op/$subop"
# No tree for this VM or phase (VMs passplan does not manage): nothing to do.
if [[ ! -d $dir ]]; then
    exit 0
fi

# libvirt writes the XML once; every script needs all of it. Without room to keep it (a full
# /tmp), prepare and start fail loudly; later phases run every script anyway, without it.
xml=
trap '[[ -z $xml ]] || rm -f -- "$xml"' EXIT
input=/dev/null
if xml=$(mktemp 2> /dev/null) && cat > "$xml"; then
    input=$xml
elif (( strict )); then
    say "cannot keep the domain XML of VM '$vm' for its $op $subop hooks (is the temporary directory full?); its start is aborted"
    exit 1
else
    say "cannot keep the domain XML of VM '$vm' (is the temporary directory full?); running its $op $subop hooks without it"
fi

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
    "$hook" "$@" < "$input" >&2 || status=$?
    if (( status != 0 )); then
        say "hook $hook failed with exit status $status"
        if (( strict )); then
            say "not running the remaining $op $subop hooks of VM '$vm'; its start is aborted"
            exit "$status"
        fi
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
            "name_rule='^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'",
            "[[ ! $vm =~ $name_rule ]]",
            "readlink -f -- \"$0\"",
            "xml=$(mktemp 2> /dev/null)",
            "trap '[[ -z $xml ]] || rm -f -- \"$xml\"' EXIT",
            ".* | *.bak | *~) continue",
            "\"$hook\" \"$@\" < \"$input\" >&2",
            "prepare | start) strict=1",
        ] {
            assert!(s.contains(needle), "missing {needle:?}");
        }
        assert!(!s.contains("@NAME_RULE@"), "the placeholder is filled");
    }
}
