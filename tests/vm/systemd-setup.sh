#!/bin/bash
# Root's part of tests/vm/systemd-checks.sh, run before it (tests/vm/run
# --setup): skiff installed system-wide as a package would install it, with
# its systemd user generator (user managers read generators only from system
# directories) that turns Quadlet-style .container files into services.
set -eu
install -m 0755 skiff /usr/local/bin/skiff
mkdir -p /usr/local/lib/systemd/user-generators
ln -sf /usr/local/bin/skiff /usr/local/lib/systemd/user-generators/skiff-user-generator
