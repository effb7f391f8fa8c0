#!/bin/sh
# systemd units per container (issue 17) under a real user manager: run as
# the lingering user inside the VM lane's guest, with skiff on PATH and
# IMAGE (default localhost/busybox) in the user's store. Prints one line per
# check and exits non-zero at the first failure; cleans up what it made.
set -eu
IMAGE=${IMAGE:-localhost/busybox}
UNITS="${XDG_CONFIG_HOME:-$HOME/.config}/systemd/user"
QUADLET="${XDG_CONFIG_HOME:-$HOME/.config}/containers/systemd"
GENERATORS="${XDG_CONFIG_HOME:-$HOME/.config}/systemd/user-generators"
WORK=$(mktemp -d)
mkdir -p "$UNITS" "$QUADLET" "$GENERATORS"

fail() { echo "FAIL: $*"; exit 1; }
ok() { echo "ok: $*"; }
prop() { systemctl --user show -p "$2" --value "$1"; }
# Waits up to $3 seconds for property $2 of unit $1 to read $4.
wait_prop() {
    i=0
    while [ "$(prop "$1" "$2")" != "$4" ]; do
        i=$((i + 1)); [ $i -le $(($3 * 10)) ] || return 1; sleep 0.1
    done
}
cleanup() {
    for u in container-web container-fails web; do
        systemctl --user stop "$u.service" 2>/dev/null || true
    done
    rm -f "$UNITS/container-web.service" "$UNITS/container-fails.service" \
        "$QUADLET/web.container" "$GENERATORS/skiff-user-generator"
    systemctl --user daemon-reload || true
    skiff rm -f --ignore web fails systemd-web >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

# 1. generate systemd --new: verify, start, readiness, main pid, stop.
skiff create --name web "$IMAGE" sleep 1000 >/dev/null
(cd "$WORK" && skiff generate systemd --new --name --files web >/dev/null)
skiff rm web >/dev/null
cp "$WORK/container-web.service" "$UNITS/"
systemd-analyze --user verify --man=no "$UNITS/container-web.service" || fail "systemd-analyze verify"
ok "generated unit passes systemd-analyze verify"
systemctl --user daemon-reload
t0=$(date +%s%N)
systemctl --user start container-web.service
t1=$(date +%s%N)
[ "$(prop container-web.service ActiveState)" = active ] || fail "container-web not active"
main=$(prop container-web.service MainPID)
[ "$main" = "$(skiff inspect --format '{{.State.ConmonPid}}' web)" ] || fail "MainPID $main is not the supervisor"
ok "Type=notify unit active after start, MainPID the supervisor ($(( (t1 - t0) / 1000000 )) ms)"
systemctl --user restart container-web.service
[ "$(prop container-web.service ActiveState)" = active ] || fail "not active after restart"
ok "restart"
systemctl --user stop container-web.service
[ "$(prop container-web.service ActiveState)" = inactive ] || fail "not inactive after stop"
[ -z "$(skiff ps -a -q --filter name=web)" ] || fail "container left after stop"
ok "stop removes the container"

# 2. a failing container is restarted per Restart=, its exit code the unit's.
skiff create --name fails "$IMAGE" sh -c 'sleep 0.5; exit 3' >/dev/null
(cd "$WORK" && skiff generate systemd --new --name --files --restart-sec 1 fails >/dev/null)
skiff rm fails >/dev/null
cp "$WORK/container-fails.service" "$UNITS/"
systemctl --user daemon-reload
systemctl --user start container-fails.service
i=0
until [ "$(prop container-fails.service NRestarts)" -ge 1 ]; do
    i=$((i + 1)); [ $i -le 100 ] || fail "no restart after failure"; sleep 0.1
done
[ "$(prop container-fails.service ExecMainStatus)" = 3 ] || fail "ExecMainStatus is not 3"
systemctl --user stop container-fails.service
ok "failing container restarted per Restart=on-failure, ExecMainStatus=3"

# 3. a Quadlet .container through skiff's generator.
ln -sf "$(command -v skiff)" "$GENERATORS/skiff-user-generator"
printf '[Container]\nImage=%s\nExec=sleep 1000\n\n[Install]\nWantedBy=default.target\n' "$IMAGE" >"$QUADLET/web.container"
skiff systemd-generator --user --dryrun | grep -q '^---web.service---$' || fail "generator dry run"
systemctl --user daemon-reload
systemctl --user start web.service
[ "$(prop web.service ActiveState)" = active ] || fail "quadlet web.service not active"
[ "$(skiff inspect --format '{{.State.Status}}' systemd-web)" = running ] || fail "systemd-web not running"
systemctl --user stop web.service
[ -z "$(skiff ps -a -q --filter name=systemd-web)" ] || fail "quadlet container left after stop"
ok "Quadlet .container started and stopped through the generator"

# 4. speed against podman's own units, when podman is installed.
if command -v podman >/dev/null 2>&1; then
    podman create --name web docker.io/library/busybox sleep 1000 >/dev/null 2>&1 || true
    if (cd "$WORK" && podman generate systemd --new --name --files web >/dev/null 2>&1); then
        podman rm web >/dev/null
        cp "$WORK/container-web.service" "$UNITS/container-web.service"
        systemctl --user daemon-reload
        p0=$(date +%s%N); systemctl --user start container-web.service; p1=$(date +%s%N)
        systemctl --user stop container-web.service
        echo "speed: skiff $(( (t1 - t0) / 1000000 )) ms, podman $(( (p1 - p0) / 1000000 )) ms"
    fi
fi
echo "all systemd checks passed"
