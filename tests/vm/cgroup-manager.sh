#!/bin/bash
# Setup script of tests/vm_cgroups.rs, run as root in the guest before checks.sh:
# the user's skiff started from a cgroup that is NOT delegated to the user (this
# system service's, as an ssh login's session-N.scope is root's). The systemd
# cgroup manager still gives the container its limits (a transient scope of the
# user's manager, over the user's D-Bus); cgroupfs cannot, and says so.
# Prints "== cgroup-manager" and key=value lines; leaves no process of the user's.
set -u
S=$PWD/skiff
as_user() {
    runuser -u user -- env XDG_RUNTIME_DIR=/run/user/1000 \
        DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/1000/bus HOME=/home/user \
        PATH=/usr/local/bin:/usr/bin:/bin "$@"
}
echo "== cgroup-manager"
echo "caller=$(sed -n 's/^0:://p' /proc/self/cgroup)"
as_user "$S" import busybox.tar localhost/busybox:latest >/dev/null || { echo "import failed"; exit 1; }
echo "default=$(as_user "$S" info --format '{{.Host.CgroupManager}}')"
as_user "$S" run -d --name sd --network none --memory 64m --pids-limit 30 busybox sleep 300 >/dev/null
echo "run=$?"
pid=$(as_user "$S" inspect --format '{{.State.Pid}}' sd)
cg=$(sed -n 's/^0:://p' "/proc/$pid/cgroup")
echo "cgroup=$cg"
echo "memory_max=$(cat "/sys/fs/cgroup$cg/memory.max")"
echo "pids_max=$(cat "/sys/fs/cgroup$cg/pids.max")"
echo "inspect_manager=$(as_user "$S" inspect --format '{{.HostConfig.CgroupManager}}' sd)"
unit=$(basename "$(dirname "$cg")")
echo "unit_active=$(as_user systemctl --user is-active "$unit")"
as_user "$S" run --rm --network none --memory 32m busybox sh -c 'head -c 100m /dev/zero | tail' >/dev/null 2>&1
echo "oom_exit=$?"
as_user "$S" rm -f -t 0 sd >/dev/null
echo "rm=$?"
# systemd removes the scope's cgroup when its last process (the supervisor) is gone.
for _ in $(seq 50); do [ -d "/sys/fs/cgroup$(dirname "$cg")" ] || break; sleep 0.1; done
echo "scope_left=$(ls -d "/sys/fs/cgroup$(dirname "$cg")" 2>/dev/null | wc -l)"
echo "unit_after=$(as_user systemctl --user is-active "$unit")"
# A restarted container finds its scope (held by its supervisor) and reuses it.
# (--cgroupns host: the container reads its cgroup as the host names it.)
as_user "$S" run -d --name rs --network none --cgroupns host --restart on-failure:1 --memory 64m busybox \
    sh -c 'sed -n "s/^0:://p" /proc/self/cgroup; exit 3' >/dev/null
echo "restart_wait=$(as_user "$S" wait rs)"
echo "restart_count=$(as_user "$S" inspect --format '{{.RestartCount}}' rs)"
echo "restart_cgroups=$(as_user "$S" logs rs | sort -u | tr '\n' ' ')"
as_user "$S" rm -f rs >/dev/null
err=$(as_user "$S" --cgroup-manager cgroupfs run --rm --network none --memory 64m busybox true 2>&1)
echo "cgroupfs_exit=$?"
echo "cgroupfs_error=$err"
# The user's processes started here (the namespace holder): gone before checks.sh.
for p in $(cat "/sys/fs/cgroup$(sed -n 's/^0:://p' /proc/self/cgroup)/cgroup.procs"); do
    [ "$(stat -c %u "/proc/$p" 2>/dev/null)" = 1000 ] && kill -9 "$p" 2>/dev/null
done
exit 0
