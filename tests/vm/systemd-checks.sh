#!/bin/bash
# The checks of tests/vm_systemd.rs (issue 17: one systemd unit per
# container) under a real user manager: run inside the VM lane's guest as the
# lingering user, with the host-built skiff and the busybox fixture on the 9p
# share (cwd). Prints "== SECTION" headers and "key=value" lines the test
# asserts on; every check runs whatever the others gave, and what the checks
# made is removed before the last section counts what is left.
set -u
export PATH=/usr/local/bin:/usr/bin:/bin
# Installed system-wide with its user generator by tests/vm/systemd-setup.sh:
# the units name the binary that generated them.
S=/usr/local/bin/skiff
IMAGE=localhost/busybox
CFG=${XDG_CONFIG_HOME:-$HOME/.config}
UNITS=$CFG/systemd/user
QUADLET=$CFG/containers/systemd
WORK=$(mktemp -d)
mkdir -p "$UNITS" "$QUADLET"
sec() { echo "== $1"; }
kv() { echo "$1=$2"; }
prop() { systemctl --user show -p "$2" --value "$1"; }
# The journal of unit $1 (systemd's lines and what skiff printed), as
# "journal: ..." lines in the current section, for a failed step's message.
journal() {
    journalctl --user -u "$1" --no-pager -o short-precise -n "${2:-80}" 2>&1 | sed 's/^/journal: /'
}
# Records step $1 of unit $2 with status $3; a failed step adds the unit's
# journal and status to the section.
step() {
    kv "$1" "$3"
    [ "$3" = 0 ] && return 0
    systemctl --user status --no-pager -l "$2" 2>&1 | sed 's/^/status: /'
    journal "$2"
}
ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
# Polls (up to $3 s) until property $2 of unit $1 reads $4; prints the time taken.
wait_prop() {
    local t=$(date +%s%N)
    until [ "$(prop "$1" "$2")" = "$4" ]; do
        [ "$(ms "$t")" -le $(($3 * 1000)) ] || { echo timeout; return 1; }
        sleep 0.05
    done
    ms "$t"
}
# Generates the --new unit of container $1 (made by: skiff create --name $1 ARGS...)
# into the user's unit directory, the container removed again, as a user does.
unit_for() {
    local name=$1; shift
    $S create --name "$name" "$@" >/dev/null || return 1
    (cd "$WORK" && $S generate systemd --new --name --files "${GEN[@]}" "$name" >/dev/null) || return 1
    $S rm "$name" >/dev/null
    cp "$WORK/container-$name.service" "$UNITS/"
}
cleanup() {
    for u in container-web container-fails container-health container-app container-hc container-pa-web pod-pa web; do
        systemctl --user stop "$u.service" 2>/dev/null
        systemctl --user reset-failed "$u.service" 2>/dev/null
    done
    rm -f "$UNITS"/container-*.service "$UNITS"/pod-*.service "$QUADLET/web.container"
    systemctl --user daemon-reload
    $S rm -f --ignore -t 0 web fails health app hc mkimg systemd-web >/dev/null 2>&1
    $S pod rm -f --ignore pa >/dev/null 2>&1
    [ -n "${REGPID-}" ] && { kill "$REGPID"; wait "$REGPID"; } 2>/dev/null
    rm -rf "$WORK"
}

$S import busybox.tar "$IMAGE:latest" >/dev/null || { echo "import failed"; exit 1; }

sec network
# The default (rootless) network: pasta needs a routable interface in the guest.
$S run --rm "$IMAGE" true
kv run $?

sec new_unit
GEN=(--time 2)
unit_for web "$IMAGE" sleep 1000
kv generate $?
systemd-analyze --user verify --man=no "$UNITS/container-web.service" 2>&1
kv verify $?
systemctl --user daemon-reload
t=$(date +%s%N)
systemctl --user start container-web.service
step start container-web.service $?
kv start_ms "$(ms "$t")"
kv type "$(prop container-web.service Type)"
kv active "$(prop container-web.service ActiveState)"
kv sub "$(prop container-web.service SubState)"
main=$(prop container-web.service MainPID)
kv mainpid_is_supervisor "$([ "$main" = "$($S inspect --format '{{.State.ConmonPid}}' web)" ] && echo yes || echo "no: MainPID $main")"
kv status "$($S inspect --format '{{.State.Status}}' web)"
first=$($S inspect --format '{{.Id}}' web)
kv cidfile "$([ "$(cat "$XDG_RUNTIME_DIR/container-web.service.ctr-id" 2>/dev/null)" = "$first" ] && echo yes || echo no)"

sec restart
t=$(date +%s%N)
systemctl --user restart container-web.service
step restart container-web.service $?
kv restart_ms "$(ms "$t")"
kv active "$(prop container-web.service ActiveState)"
kv new_container "$([ "$($S inspect --format '{{.Id}}' web 2>/dev/null)" != "$first" ] && echo yes || echo no)"
kv status "$($S inspect --format '{{.State.Status}}' web)"

sec stop
# sleep as the container's pid 1 ignores SIGTERM: stop kills it after --time 2.
t=$(date +%s%N)
systemctl --user stop container-web.service
step stop container-web.service $?
kv stop_ms "$(ms "$t")"
kv active "$(prop container-web.service ActiveState)"
kv result "$(prop container-web.service Result)"
kv left "$($S ps -a -q --filter name=web | wc -l)"
kv cidfile_left "$([ -e "$XDG_RUNTIME_DIR/container-web.service.ctr-id" ] && echo yes || echo no)"

sec failing
GEN=(--restart-sec 1)
unit_for fails "$IMAGE" sh -c 'sleep 0.5; exit 3'
kv generate $?
systemctl --user daemon-reload
systemctl --user start container-fails.service
step start container-fails.service $?
t=$(date +%s%N)
# The exit status is the one read while waiting: by the time of a later
# read, systemd may have restarted the unit again (a running main process
# has status 0).
until n=$(prop container-fails.service NRestarts) && st=$(prop container-fails.service ExecMainStatus) &&
    [ "$n" -ge 1 ] && [ "$st" != 0 ]; do
    [ "$(ms "$t")" -le 60000 ] || break; sleep 0.1
done
kv waited_ms "$(ms "$t")"
kv restarts "$n"
kv exec_main_status "$st"
kv restart_policy "$(prop container-fails.service Restart)"
systemctl --user stop container-fails.service
# inactive, or failed when the stop met a run that exited with 3 itself
# (systemd keeps that result); never still running or restarting.
kv stopped "$(prop container-fails.service ActiveState)"
kv left "$($S ps -a -q --filter name=fails | wc -l)"

sec healthy
# --sdnotify=healthy: READY=1 only once a healthcheck passes, which cannot
# happen before this script makes /tmp/ready in the container: the unit
# stays activating through failing checks, and is active after the file.
GEN=(--time 1)
unit_for health --sdnotify=healthy --health-cmd 'test -e /tmp/ready' --health-interval 1s \
    "$IMAGE" sleep 1000
kv generate $?
systemctl --user daemon-reload
t=$(date +%s%N)
systemctl --user start --no-block container-health.service
# Activating (the container runs, unhealthy yet) while the check fails.
until [ "$($S inspect --format '{{.State.Health.FailingStreak}}' health 2>/dev/null || echo 0)" -ge 1 ]; do
    [ "$(ms "$t")" -le 60000 ] || break; sleep 0.1
done
kv failing_streak "$($S inspect --format '{{.State.Health.FailingStreak}}' health 2>&1)"
kv while_starting "$(prop container-health.service ActiveState)"
$S exec health touch /tmp/ready
kv touched $?
n=$(wait_prop container-health.service ActiveState 30 active) || true
kv active "$(prop container-health.service ActiveState)"
kv health "$($S inspect --format '{{.State.Health.Status}}' health)"
[ "$(prop container-health.service ActiveState)" = active ] || journal container-health.service
systemctl --user stop container-health.service
kv left "$($S ps -a -q --filter name=health | wc -l)"

sec autoupdate
# A registry on the guest's loopback (insecure there, as for Podman) holds
# $APP; a --new unit runs it labelled io.containers.autoupdate=registry.
# An update pushed to the registry is pulled and the unit restarted; an
# update whose container cannot start is rolled back to the image before.
REG=127.0.0.1:5000
APP=$REG/app:latest
mkdir -p "$WORK/registry"
printf 'version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: %s\n' \
    "$WORK/registry" "$REG" >"$WORK/registry.yml"
/usr/bin/docker-registry serve "$WORK/registry.yml" >"$WORK/registry.log" 2>&1 &
REGPID=$!
t=$(date +%s%N)
until busybox wget -q -O /dev/null "http://$REG/v2/" 2>/dev/null; do
    [ "$(ms "$t")" -le 30000 ] || { cat "$WORK/registry.log"; break; }
    sleep 0.1
done
kv registry_ms "$(ms "$t")"
# A new image of $APP in the registry, made from the fixture by `commit`
# (entrypoint $2 when given) and removed here again, as if pushed from
# elsewhere; prints its id.
push_update() {
    local args=()
    [ -n "${2-}" ] && args=(-c "ENTRYPOINT [\"$2\"]")
    $S rm -f --ignore mkimg >/dev/null 2>&1
    $S run --name mkimg "$IMAGE" sh -c "echo $1 >/version" >/dev/null &&
        $S commit -q "${args[@]}" mkimg "localhost/app-$1" >/dev/null &&
        $S push -q "localhost/app-$1" "$APP" >&2 &&
        $S image inspect --format '{{.Id}}' "localhost/app-$1" &&
        $S rm mkimg >/dev/null && $S rmi "localhost/app-$1" >/dev/null
}
# The fixture itself is the first version: pulled, it has two names.
$S push -q "$IMAGE" "$APP" >&2
$S pull -q "$APP" >/dev/null
kv pull_v1 $?
v1=$($S image inspect --format '{{.Id}}' "$APP")
GEN=(--time 1)
unit_for app --label io.containers.autoupdate=registry "$APP" sleep 1000
kv generate $?
systemctl --user daemon-reload
systemctl --user start container-app.service
step start container-app.service $?
kv label "$($S inspect --format '{{index .Config.Labels "PODMAN_SYSTEMD_UNIT"}}' app)"
kv none "$($S auto-update --dry-run --format '{{.Unit}} {{.Image}} {{.Policy}} {{.Updated}}')"
v2=$(push_update v2)
kv pushed_v2 "$([ -n "$v2" ] && [ "$v2" != "$v1" ] && echo yes || echo "no: '$v2'")"
kv dryrun "$($S auto-update --dry-run --format '{{.Unit}} {{.Image}} {{.Policy}} {{.Updated}}')"
kv dryrun_image_kept "$([ "$($S inspect --format '{{.Image}}' app)" = "$v1" ] && echo yes || echo no)"
before=$($S inspect --format '{{.Id}}' app)
t=$(date +%s%N)
out=$($S auto-update --format '{{.Unit}} {{.Image}} {{.Policy}} {{.Updated}}' 2>&1)
kv update "$out"
kv update_ms "$(ms "$t")"
case $out in *" true") ;; *) journal container-app.service ;; esac
kv update_active "$(prop container-app.service ActiveState)"
kv update_new_container "$([ "$($S inspect --format '{{.Id}}' app 2>/dev/null)" != "$before" ] && echo yes || echo no)"
kv update_runs_v2 "$([ "$($S inspect --format '{{.Image}}' app)" = "$v2" ] && echo yes || echo "no: $($S inspect --format '{{.Image}}' app)")"
kv update_version "$($S exec app cat /version)"
kv again "$($S auto-update --format '{{.Updated}}' 2>&1)"
# v3 cannot start: its entrypoint does not exist.
v3=$(push_update v3 /no/such/program)
kv pushed_v3 "$([ -n "$v3" ] && [ "$v3" != "$v2" ] && echo yes || echo "no: '$v3'")"
t=$(date +%s%N)
out=$($S auto-update --format '{{.Unit}} {{.Image}} {{.Policy}} {{.Updated}}' 2>&1)
kv rollback_rc $?
kv rollback "$out"
kv rollback_ms "$(ms "$t")"
case $out in *"rolled back") ;; *) journal container-app.service 150 ;; esac
kv rollback_active "$(prop container-app.service ActiveState)"
kv rollback_runs_v2 "$([ "$($S inspect --format '{{.Image}}' app)" = "$v2" ] && echo yes || echo "no: $($S inspect --format '{{.Image}}' app)")"
kv rollback_tag_v2 "$([ "$($S image inspect --format '{{.Id}}' "$APP")" = "$v2" ] && echo yes || echo no)"
kv rollback_version "$($S exec app cat /version)"
systemctl --user stop container-app.service
kv stopped "$(prop container-app.service ActiveState)"
kv left "$($S ps -a -q --filter name=app | wc -l)"

sec autoupdate_healthy
# --sdnotify=healthy: the unit is ready at the first passing healthcheck
# (`test -e /ok`). An update whose container runs but never passes it
# keeps the restart activating until TimeoutStartSec (--start-timeout 20)
# and fails it; auto-update rolls back to the image before, healthy again.
# Uses the registry of the autoupdate section.
HC=$REG/hc:latest
# A new image of $HC made from the fixture by running `sh -c "$2"` in it,
# pushed and removed here, as if pushed from elsewhere; prints its id.
push_hc() {
    $S rm -f --ignore mkimg >/dev/null 2>&1
    $S run --name mkimg "$IMAGE" sh -c "$2" >/dev/null &&
        $S commit -q mkimg "localhost/hc-$1" >/dev/null &&
        $S push -q "localhost/hc-$1" "$HC" >&2 &&
        $S image inspect --format '{{.Id}}' "localhost/hc-$1" &&
        $S rm mkimg >/dev/null && $S rmi "localhost/hc-$1" >/dev/null
}
h1=$(push_hc good 'echo good >/version; touch /ok')
$S pull -q "$HC" >/dev/null
kv pull_good $?
GEN=(--time 1 --start-timeout 20)
unit_for hc --label io.containers.autoupdate=registry --sdnotify=healthy \
    --health-cmd 'test -e /ok' --health-interval 1s "$HC" sleep 1000
kv generate $?
systemctl --user daemon-reload
systemctl --user start container-hc.service
kv start $?
kv active "$(prop container-hc.service ActiveState)"
kv health "$($S inspect --format '{{.State.Health.Status}}' hc)"
h2=$(push_hc bad 'echo bad >/version')
kv pushed_bad "$([ -n "$h2" ] && [ "$h2" != "$h1" ] && echo yes || echo "no: '$h2'")"
t=$(date +%s%N)
$S auto-update --format '{{.Unit}} {{.Image}} {{.Policy}} {{.Updated}}' >"$WORK/hc.out" 2>&1 &
au=$!
# Meanwhile the new container runs, unhealthy, and the unit waits for it.
until [ "$($S inspect --format '{{.Image}} {{.State.Status}}' hc 2>/dev/null)" = "$h2 running" ]; do
    [ "$(ms "$t")" -le 60000 ] && kill -0 "$au" 2>/dev/null || break
    sleep 0.1
done
kv bad_ran "$([ "$($S inspect --format '{{.Image}}' hc 2>/dev/null)" = "$h2" ] && echo yes || echo no)"
kv bad_state "$(prop container-hc.service ActiveState)"
wait "$au"
kv rollback_rc $?
kv rollback_ms "$(ms "$t")"
kv rollback "$(cat "$WORK/hc.out")"
kv rollback_active "$(prop container-hc.service ActiveState)"
kv rollback_runs_good "$([ "$($S inspect --format '{{.Image}}' hc)" = "$h1" ] && echo yes || echo "no: $($S inspect --format '{{.Image}}' hc)")"
kv rollback_tag_good "$([ "$($S image inspect --format '{{.Id}}' "$HC")" = "$h1" ] && echo yes || echo no)"
kv rollback_version "$($S exec hc cat /version)"
kv rollback_health "$($S inspect --format '{{.State.Health.Status}}' hc)"
systemctl --user stop container-hc.service
kv stopped "$(prop container-hc.service ActiveState)"
kv left "$($S ps -a -q --filter name=hc | wc -l)"

sec pod_unit
# `generate systemd --new` for a pod: the pod unit creates the pod (its id
# in %t/pod-pa.pod-id, the infra supervisor the unit's main pid) and wants
# the container's unit, which runs in it by --pod-id-file; stopping the pod
# unit stops the container's and removes the pod.
$S pod create --name pa >/dev/null
$S create --pod pa --name pa-web "$IMAGE" sleep 1000 >/dev/null
(cd "$WORK" && $S generate systemd --new --name --files -t 1 pa >/dev/null)
kv generate $?
$S pod rm -f pa >/dev/null
cp "$WORK/pod-pa.service" "$WORK/container-pa-web.service" "$UNITS/"
systemd-analyze --user verify --man=no "$UNITS/pod-pa.service" "$UNITS/container-pa-web.service" 2>&1
kv verify $?
systemctl --user daemon-reload
t=$(date +%s%N)
systemctl --user start pod-pa.service
step start pod-pa.service $?
kv active "$(prop pod-pa.service ActiveState)"
n=$(wait_prop container-pa-web.service ActiveState 30 active)
kv web_active "$(prop container-pa-web.service ActiveState)"
kv start_ms "$(ms "$t")"
kv pod_state "$($S pod inspect --format '{{.State}}' pa 2>&1)"
podid=$(cat "$XDG_RUNTIME_DIR/pod-pa.pod-id" 2>/dev/null)
kv idfile "$([ -n "$podid" ] && [ "$podid" = "$($S pod inspect --format '{{.Id}}' pa)" ] && echo yes || echo "no: '$podid'")"
kv web_in_pod "$([ "$($S inspect --format '{{.Pod}}' pa-web 2>/dev/null)" = "$podid" ] && echo yes || echo no)"
infra=$($S pod inspect --format '{{.InfraContainerID}}' pa)
main=$(prop pod-pa.service MainPID)
kv mainpid_is_infra_supervisor "$([ "$main" = "$($S inspect --format '{{.State.ConmonPid}}' "$infra")" ] && echo yes || echo "no: MainPID $main")"
systemctl --user stop pod-pa.service
kv stop $?
kv stopped "$(prop pod-pa.service ActiveState)"
kv web_stopped "$(prop container-pa-web.service ActiveState)"
kv pods_left "$($S pod ps -q | wc -l)"
kv left "$($S ps -a -q --filter name=pa | wc -l)"

sec quadlet
printf '[Container]\nImage=%s\nExec=sleep 1000\n\n[Install]\nWantedBy=default.target\n' "$IMAGE" >"$QUADLET/web.container"
kv dryrun "$($S systemd-generator --user --dryrun 2>&1 | grep -c '^---web.service---$')"
systemctl --user daemon-reload
kv loaded "$(prop web.service LoadState)"
kv source "$(prop web.service SourcePath)"
systemctl --user start web.service
step start web.service $?
kv active "$(prop web.service ActiveState)"
kv status "$($S inspect --format '{{.State.Status}}' systemd-web)"
systemd-analyze --user verify --man=no \
    "$XDG_RUNTIME_DIR/systemd/generator/web.service" 2>&1
kv verify $?
systemctl --user stop web.service
kv stopped "$(prop web.service ActiveState)"
kv left "$($S ps -a -q --filter name=systemd-web | wc -l)"

cleanup
sec leftovers
kv containers "$($S ps -a -q | wc -l)"
failed=$(systemctl --user list-units --failed --plain --no-legend | awk '{print $1}')
kv failed_units "$(printf '%s' "$failed" | grep -c .)"
for u in $failed; do echo "failed unit: $u"; journal "$u" 40; done
kv cidfiles "$(ls "$XDG_RUNTIME_DIR"/*.ctr-id "$XDG_RUNTIME_DIR"/*.cid 2>/dev/null | wc -l)"
kv cgroups "$(find /sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service -name 'skiff-*' | wc -l)"
# Supervisors and container processes of skiff; the namespace holder
# (skiff _pause) stays, as Podman's pause process does.
kv processes "$(pgrep -u "$(id -u)" -a skiff | grep -vc ' _pause$')"
# Container processes run as the user's subordinate ids (100000-165535).
kv container_processes "$(ps -eo uid= | awk '$1 >= 100000 && $1 < 165536' | wc -l)"
echo "done"
