#!/bin/bash
# Managed by passplan — do not edit; changes are overwritten.
# From vm "win10" › memory hugepages="dynamic" (dynamic hugepages for VM win10)
#
# prepare: add this VM's pages to the pool, compacting memory and retrying a bounded
# number of times; on a shortfall restore the previous count and fail, which aborts the
# start. release: give back exactly the pages prepare recorded in the state file.
set -euo pipefail

vm='win10'
page_kb='2048'
pages='8192'
max_tries='10'

# Roots are overridable for tests only: libvirt runs hooks with a minimal environment that
# never sets these, so on a host they are always /sys, /proc and /run.
sysfs=${PASSPLAN_SYSFS:-/sys}
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
