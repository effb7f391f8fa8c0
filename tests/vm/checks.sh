#!/bin/bash
# The checks of tests/vm_cgroups.rs, run inside the VM lane's guest as the
# lingering user, in a scope under user@1000.service (the delegated subtree),
# with the host-built skiff and the busybox fixture on the 9p share (cwd).
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

sec cleanup
$S rm -f w >/dev/null
kv exit $?
kv gone "$([ -e "$C" ] && echo no || echo yes)"
$S run --rm "${N[@]}" --memory 64m busybox true
kv rm_exit $?
kv left "$(ls -d "$D"/skiff-* 2>/dev/null | wc -l)"

sec errors
$S run --rm "${N[@]}" --cpuset-cpus 99 busybox true 2>&1 | head -n 3
kv cpuset_exit "${PIPESTATUS[0]}"
