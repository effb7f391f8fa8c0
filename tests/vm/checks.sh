#!/bin/bash
# The checks of tests/vm_cgroups.rs, run inside the VM lane's guest as the
# lingering user, in a scope under user@1000.service (the delegated subtree),
# with the host-built skiff and the busybox fixture on the 9p share (cwd);
# tests/vm/cgroup-manager.sh ran before it as root.
# Prints "== SECTION" headers and "key=value" lines the test asserts on.
set -u
S=$PWD/skiff
export PATH=/usr/local/bin:/usr/bin:/bin
own=$(sed -n 's/^0:://p' /proc/self/cgroup)
D=/sys/fs/cgroup$(dirname "$own")
sec() { echo "== $1"; }
kv() { echo "$1=$2"; }
# The container's cgroup directory, from its pid.
cg() { echo "/sys/fs/cgroup$(sed -n 's/^0:://p' "/proc/$($S inspect --format '{{.State.Pid}}' "$1")/cgroup")"; }

$S import busybox.tar localhost/busybox:latest >/dev/null || { echo "import failed"; exit 1; }
N=(--network none)

sec delegation
kv parent "$D"
kv controllers "$(cat "$D/cgroup.controllers")"

sec oom
$S run --name oom "${N[@]}" --memory 64m busybox sh -c 'head -c 200m /dev/zero | tail' >/dev/null 2>&1
kv exit $?
kv oomkilled "$($S inspect --format '{{.State.OOMKilled}}' oom)"
$S rm oom >/dev/null

sec pids
out=$($S run --rm "${N[@]}" --pids-limit 10 busybox sh -c 'for i in $(seq 20); do sleep 5 & done; echo forked all' 2>&1)
kv exit $?
kv refused "$(echo "$out" | grep -c "can't fork")"

sec limits
$S run -d --name w "${N[@]}" --cpus 0.5 --memory 128m --memory-swap 128m --cpu-shares 512 \
    --cpuset-cpus 0 --pids-limit 50 --blkio-weight 300 --memory-reservation 32m \
    busybox sh -c 'while :; do :; done' >/dev/null
kv run $?
C=$(cg w)
kv cgroup "$C"
for f in memory.max memory.swap.max memory.low cpu.max cpu.weight cpuset.cpus pids.max io.weight; do
    kv "$f" "$(cat "$C/$f")"
done
kv inspect "$($S inspect --format '{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{.HostConfig.NanoCpus}} {{.HostConfig.CpuShares}} {{.HostConfig.CpusetCpus}} {{.HostConfig.PidsLimit}}' w)"
# A busy loop at --cpus 0.5 is throttled: cpu.stat counts the periods.
sleep 2
kv throttled "$(sed -n 's/^nr_throttled //p' "$C/cpu.stat")"

# stats reads the containers' cgroups: MEM USAGE is what one holds (64 MiB
# written to its /dev/shm, a tmpfs charged to it), LIMIT its --memory, PIDS
# its processes (sh and two sleeps); CPU % of the busy loop w is what
# --cpus 0.5 lets it use, since its start (--no-stream) and over a 2 s
# sample of the live view (its last table).
sec stats
$S run -d --name sm "${N[@]}" --memory 256m --shm-size 128m busybox \
    sh -c 'dd if=/dev/zero of=/dev/shm/fill bs=1M count=64 2>/dev/null; echo filled; sleep 1000 & sleep 1000 & wait' >/dev/null
kv run $?
for _ in $(seq 300); do $S logs sm 2>/dev/null | grep -q filled && break; sleep 0.1; done
SC=$(cg sm)
kv memory.current "$(cat "$SC/memory.current")"
kv pids.current "$(cat "$SC/pids.current")"
kv mem "$($S stats --no-stream --format '{{.MemUsageBytes}}' sm)"
kv limit "$($S stats --no-stream --format '{{.MemLimit}}' sm)"
kv pids "$($S stats --no-stream --format '{{.PIDs}}' sm)"
kv table "$($S stats --no-stream sm | tail -n 1)"
kv json "$($S stats --no-stream --format json sm | tr -d '\n')"
kv cpu "$($S stats --no-stream --format '{{.CPUPerc}}' w)"
kv cpu_live "$(timeout 5 "$S" stats --interval 2 --format '{{.CPUPerc}}' w | sed 's/\x1b\[H\x1b\[2J//g' | grep % | tail -n 1)"
$S rm -f sm >/dev/null

sec update
$S update --memory 256m --memory-swap 256m --cpus 1 --pids-limit 100 w >/dev/null
kv exit $?
kv memory.max "$(cat "$C/memory.max")"
kv cpu.max "$(cat "$C/cpu.max")"
kv pids.max "$(cat "$C/pids.max")"
kv inspect "$($S inspect --format '{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}}' w)"

sec freezer
$S pause w >/dev/null
kv exit $?
kv freeze "$(cat "$C/cgroup.freeze")"
kv frozen "$(sed -n 's/^frozen //p' "$C/cgroup.events")"
kv status "$($S inspect --format '{{.State.Status}}' w)"
$S unpause w >/dev/null
kv thawed "$(sed -n 's/^frozen //p' "$C/cgroup.events")"

# kube play's resources become the same cgroup limits (tests/kube.rs
# checks the refusal on hosts without delegation).
sec kube
K=$(mktemp -d)
cat > "$K/kl.yaml" <<'YAML'
apiVersion: v1
kind: Pod
metadata: {name: kl}
spec:
  containers:
  - name: web
    image: localhost/busybox:latest
    command: [sleep, "1000"]
    resources: {limits: {memory: 64Mi, cpu: 500m}}
YAML
$S kube play "$K/kl.yaml" >/dev/null
kv play $?
KC=$(cg kl-web)
kv memory.max "$(cat "$KC/memory.max")"
kv cpu.max "$(cat "$KC/cpu.max")"
# pod stats reads the members' cgroups (tests/pod.rs checks the rest).
kv podstats "$($S pod stats --no-stream --format '{{.Name}}|{{.MemUsage}}' kl | grep '^kl-web|')"
$S kube down "$K/kl.yaml" >/dev/null
kv down $?
rm -rf "$K"

# A container sees its own cgroup as the root of its cgroup namespace, as
# under runc: `0::/` in /proc/self/cgroup and its limits at /sys/fs/cgroup,
# with either manager; an exec'd process joins the same view.
sec cgroupns
in_ctr='sed -n "s/^0:://p" /proc/self/cgroup; cat /sys/fs/cgroup/memory.max'
for m in cgroupfs systemd; do
    $S --cgroup-manager "$m" run -d --name "ns-$m" "${N[@]}" --memory 64m busybox sleep 1000 >/dev/null
    kv "$m.run" $?
    out=$($S exec "ns-$m" sh -c "$in_ctr" 2>&1)
    kv "$m.exec.cgroup" "$(echo "$out" | head -n 1)"
    kv "$m.exec.memory.max" "$(echo "$out" | sed -n 2p)"
    out=$($S --cgroup-manager "$m" run --rm "${N[@]}" --memory 64m busybox sh -c "$in_ctr" 2>&1)
    kv "$m.cgroup" "$(echo "$out" | head -n 1)"
    kv "$m.memory.max" "$(echo "$out" | sed -n 2p)"
done
$S rm -f ns-cgroupfs ns-systemd >/dev/null

sec cleanup
$S rm -f w >/dev/null
kv exit $?
kv gone "$([ -e "$C" ] && echo no || echo yes)"
$S run --rm "${N[@]}" --memory 64m busybox true
kv rm_exit $?
kv left "$(ls -d "$D"/skiff-* 2>/dev/null | wc -l)"

# What limits cost `run`: the median wall time of `run --rm ... true` with
# and without --memory/--cpus/--pids-limit, alternated, in microseconds.
sec cost
us() { local a=$EPOCHREALTIME; "$@" >/dev/null 2>&1; local b=$EPOCHREALTIME; echo $(( ${b/./} - ${a/./} )); }
med() { printf '%s\n' "$@" | sort -n | sed -n "$(( ($# + 1) / 2 ))p"; }
plain=() limited=()
for _ in $(seq 15); do
    plain+=("$(us "$S" run --rm "${N[@]}" busybox true)")
    limited+=("$(us "$S" run --rm "${N[@]}" --memory 64m --cpus 0.5 --pids-limit 50 busybox true)")
done
kv plain_us "$(med "${plain[@]}")"
kv limited_us "$(med "${limited[@]}")"
kv left "$(ls -d "$D"/skiff-* 2>/dev/null | wc -l)"

sec errors
$S run --rm "${N[@]}" --cpuset-cpus 99 busybox true 2>&1 | head -n 3
kv cpuset_exit "${PIPESTATUS[0]}"

# --cgroups: where the container and its supervisor go. This script runs in
# $own, the caller's cgroup; $D above it is the delegated directory.
sec modes
ctr() { sed -n 's/^0:://p' "/proc/$($S inspect --format '{{.State.Pid}}' "$1")/cgroup"; }
sup() { sed -n 's/^0:://p' "/proc/$($S inspect --format '{{.State.ConmonPid}}' "$1")/cgroup"; }
kv own "$own"
# (cgroupfs placement, the default manager here being systemd; sd-* below.)
for m in enabled no-conmon disabled; do
    $S --cgroup-manager cgroupfs run -d --name "m-$m" "${N[@]}" --cgroups "$m" busybox sleep 1000 >/dev/null
    kv "$m" $?
    kv "$m.container" "$(ctr "m-$m")"
    kv "$m.supervisor" "$(sup "m-$m")"
    kv "$m.inspect" "$($S inspect --format '{{.HostConfig.Cgroups}}' "m-$m")"
done
# The systemd manager: the container in its scope's container leaf, the
# supervisor beside it (enabled) or left in the caller's cgroup (no-conmon).
for m in enabled no-conmon; do
    $S run -d --name "sd-$m" "${N[@]}" --cgroups "$m" busybox sleep 1000 >/dev/null
    kv "sd-$m" $?
    kv "sd-$m.container" "$(ctr "sd-$m")"
    kv "sd-$m.supervisor" "$(sup "sd-$m")"
done
$S rm -f m-enabled m-no-conmon m-disabled sd-enabled sd-no-conmon >/dev/null
$S run --rm "${N[@]}" --cgroups disabled --memory 64m busybox true 2>&1
kv disabled_limits $?
$S run --rm "${N[@]}" --cgroups split --cgroup-parent "$(dirname "$own")" busybox true 2>&1
kv split_parent $?
# split last: it moves this script to $own/skiff-runtime.
$S run -d --name m-split "${N[@]}" --cgroups split --memory 64m --pids-limit 20 busybox sleep 1000 >/dev/null
kv split $?
kv split.container "$(ctr m-split)"
kv split.supervisor "$(sup m-split)"
kv split.script "$(sed -n 's/^0:://p' /proc/$$/cgroup)"
SP=/sys/fs/cgroup$(ctr m-split)
kv split.memory.max "$(cat "$SP/memory.max")"
kv split.pids.max "$(cat "$SP/pids.max")"
kv split.stats "$($S stats --no-stream --format '{{.MemLimit}}|{{.PIDs}}' m-split)"
kv split.inspect "$($S inspect --format '{{.HostConfig.Cgroups}}|{{.HostConfig.CgroupMode}}|{{.HostConfig.CgroupParent}}|{{.HostConfig.CgroupManager}}|{{.State.CgroupPath}}' m-split)"
$S rm -f m-split >/dev/null
kv split.rm $?
kv split.gone "$([ -e "$SP" ] && echo no || echo yes)"

sec orphan
# A supervisor killed outright (as systemd does at the end of a unit's stop
# timeout): `rm -f` kills what is left in the container's cgroup and
# removes the cgroup, under either cgroup manager.
for m in systemd cgroupfs; do
    $S --cgroup-manager "$m" run -d --name "orphan-$m" "${N[@]}" --memory 64m busybox sleep 1000 >/dev/null
    kv "$m.run" $?
    OP=/sys/fs/cgroup$(ctr "orphan-$m")
    kill -9 "$($S inspect --format '{{.State.ConmonPid}}' "orphan-$m")"
    $S rm -f "orphan-$m" >/dev/null
    kv "$m.rm" $?
    kv "$m.gone" "$([ -e "$OP" ] && echo "no: $OP" || echo yes)"
done
