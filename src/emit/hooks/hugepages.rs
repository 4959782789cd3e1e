//! Dynamic hugepages (`memory … hugepages="dynamic"`): reserve the VM's pages at prepare, give
//! exactly those back at release.
//!
//! Unlike the seed tutorial's scripts, which set the pool to the VM's count and later to 0, this
//! adds to what is already reserved (boot-time pages, another running VM) and records what it
//! added in `/run/passplan/<vm>.hugepages` (`<page kB> <pages>`), so two VMs can coexist and
//! release never takes pages it did not add. Release gives back what the record says, of the
//! recorded size: a spec that changes the VM's page size while it runs does not strand them. Changes to the pool are serialised with `flock`,
//! since libvirt may start two VMs at once.

use crate::check::Context;
use crate::desired::CompileError;
use crate::emit::origin;
use crate::spec::{HookPhase, HugepageMode, Vm};

use super::{Placed, ROOTS_NOTE, assign, header, invalid, vm_dir};

/// How often to compact memory and ask again before giving up. Compaction of a large machine
/// takes seconds, and the user is waiting for the VM; ten rounds is where the seed's 1000
/// mostly spun without progress.
const MAX_TRIES: u32 = 10;

/// The prepare and release scripts, when the VM uses dynamic hugepages.
pub(super) fn scripts(cx: &Context<'_>, vm: &Vm) -> Result<Vec<Placed>, CompileError> {
    if vm.memory.hugepages.value != HugepageMode::Dynamic {
        return Ok(Vec::new());
    }
    let page = cx.page_size(vm).map_or(0, |p| p.0);
    let size = vm.memory.size.value.0;
    // The checker guarantees a page size the host offers and memory a multiple of it.
    if page < 4096 || !size.is_multiple_of(page) {
        return Err(invalid(
            &vm_dir(&vm.name),
            &format!("memory of {size} bytes is not a whole number of {page}-byte hugepages"),
        ));
    }
    let page_kb = page / 1024;
    let pages = size / page;
    let from = origin::child(
        &origin::node("vm", &vm.name.value),
        "memory hugepages=\"dynamic\"",
    );
    let content = script(&from, &vm.name, page_kb, pages);
    let reason = |what: &str| {
        format!(
            "VM {} {what} {pages} hugepages of {page_kb} kB ({from})",
            vm.name.value
        )
    };
    Ok(vec![
        Placed {
            phase: HookPhase::PrepareBegin,
            order: 10,
            file: "passplan-hugepages.sh".into(),
            content: content.clone(),
            reason: reason("reserves"),
        },
        Placed {
            phase: HookPhase::ReleaseEnd,
            order: 40,
            file: "passplan-hugepages.sh".into(),
            content,
            reason: reason("gives back"),
        },
    ])
}

/// The script, for both phases.
fn script(from: &str, vm: &str, page_kb: u64, pages: u64) -> String {
    let mut s = header(
        from,
        &format!("dynamic hugepages for VM {vm}"),
        &[
            "prepare: add this VM's pages to the pool, compacting memory and retrying a bounded",
            "number of times; on a shortfall restore the previous count and fail, which aborts the",
            "start. release: give back exactly the pages prepare recorded in the state file.",
        ],
    );
    s.push_str(&assign("vm", vm));
    s.push_str(&assign("page_kb", &page_kb.to_string()));
    s.push_str(&assign("pages", &pages.to_string()));
    s.push_str(&assign("max_tries", &MAX_TRIES.to_string()));
    s.push('\n');
    s.push_str(ROOTS_NOTE);
    s.push_str(BODY);
    s
}

/// Everything after the values.
const BODY: &str = r#"sysfs=${PASSPLAN_SYSFS:-/sys}
procfs=${PASSPLAN_PROCFS:-/proc}
state_dir=${PASSPLAN_RUN:-/run}/passplan

pool="$sysfs/kernel/mm/hugepages/hugepages-${page_kb}kB/nr_hugepages"
state="$state_dir/$vm.hugepages"

# A pool's page count (the pool of this VM's page size by default); anything but a number
# means the file is not the kernel's.
count() {
    local file=${1:-$pool} n
    n=$(< "$file")
    if [[ ! $n =~ ^[0-9]+$ ]]; then
        echo "passplan: $file holds '$n', not a page count" >&2
        return 1
    fi
    echo "$n"
}

# Give back the pages the state file says this VM added, of the size it recorded (the spec may
# have changed the VM's page size while it ran), and forget them.
give_back() {
    if [[ ! -e $state ]]; then
        return 0
    fi
    local size added now taken
    read -r size added < "$state" || true
    if [[ ! $size =~ ^[0-9]+$ || ! $added =~ ^[0-9]+$ ]]; then
        echo "passplan: $state is not a record of hugepages ('<page kB> <pages>'); leaving the pools alone. Remove it once no VM uses the pages it recorded" >&2
        return 1
    fi
    taken="$sysfs/kernel/mm/hugepages/hugepages-${size}kB/nr_hugepages"
    if [[ ! -e $taken ]]; then
        echo "passplan: $state records ${size} kB hugepages, which this kernel does not have; forgetting the record" >&2
        rm -f -- "$state"
        return 0
    fi
    now=$(count "$taken")
    # Someone shrank the pool meanwhile: never go below zero.
    if (( added > now )); then
        added=$now
    fi
    echo "$(( now - added ))" > "$taken"
    rm -f -- "$state"
    echo "passplan: gave back $added ${size} kB hugepages of VM $vm (pool $now -> $(( now - added )))" >&2
}

reserve() {
    if [[ ! -e $pool ]]; then
        echo "passplan: this kernel has no ${page_kb} kB hugepages ($pool is missing); VM $vm cannot start" >&2
        return 1
    fi
    # A record left by a start whose release never ran (a daemon crash): those pages are
    # unused now, so give them back first instead of growing the pool with every start.
    give_back
    local before want got tries=0
    before=$(count)
    want=$(( before + pages ))
    # The kernel may reserve fewer pages than asked, or refuse the write (gigantic pages
    # without runtime support); the read-back tells either way.
    echo "$want" > "$pool" || true
    got=$(count)
    while (( got < want && tries < max_tries )); do
        tries=$(( tries + 1 ))
        # Under fragmentation free memory is not contiguous enough: drop clean page cache,
        # compact, and ask again.
        if [[ -w $procfs/sys/vm/drop_caches ]]; then
            echo 1 > "$procfs/sys/vm/drop_caches" || true
        fi
        if [[ -w $procfs/sys/vm/compact_memory ]]; then
            echo 1 > "$procfs/sys/vm/compact_memory" || true
        fi
        echo "$want" > "$pool" || true
        got=$(count)
    done
    if (( got < want )); then
        echo "$before" > "$pool" || true
        echo "passplan: VM $vm needs $pages hugepages of ${page_kb} kB, but only $(( got - before )) could be reserved (pool $before, wanted $want, got $got after $tries compactions); restored the pool to $before. Free memory, or reserve the pages at boot (hugepages=\"static\")" >&2
        return 1
    fi
    printf '%s %s\n' "$page_kb" "$pages" > "$state"
    echo "passplan: reserved $pages hugepages of ${page_kb} kB for VM $vm (pool $before -> $got)" >&2
}

mkdir -p -- "$state_dir"
# Two VMs starting or stopping at once must not interleave their read-modify-write of the pool.
exec 9> "$state_dir/hugepages.lock"
flock 9

case ${2-} in
    prepare) reserve ;;
    release) give_back ;;
    *)
        echo "passplan: $0 runs at prepare and release, not at '${2-}'" >&2
        exit 1
        ;;
esac
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_adds_records_and_reverts() {
        let s = script("s.kdl:9", "win10", 1_048_576, 16);
        assert!(s.contains("# From s.kdl:9 (dynamic hugepages for VM win10)"));
        for needle in [
            "vm='win10'\n",
            "page_kb='1048576'\n",
            "pages='16'\n",
            "max_tries='10'\n",
            "want=$(( before + pages ))",
            "echo 1 > \"$procfs/sys/vm/compact_memory\"",
            "echo \"$before\" > \"$pool\"",
            "printf '%s %s\\n' \"$page_kb\" \"$pages\" > \"$state\"",
            "echo \"$(( now - added ))\" > \"$taken\"",
            "state=\"$state_dir/$vm.hugepages\"",
            "flock 9",
        ] {
            assert!(s.contains(needle), "missing {needle:?}");
        }
    }
}
