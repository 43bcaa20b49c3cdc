#!/usr/bin/env bash
# install_test.sh SOURCE_DIR BUILD_DIR
# The installed programs work with the source tree gone: `cmake --install` into a scratch prefix
# and the CPack DEB package unpacked into a scratch root each run a tiny sweep (charts and
# index.html included) inside a mount namespace where the source tree is an empty directory.
# Exit 77 (skipped) where a mount namespace cannot be made (not root, no unshare).
set -euo pipefail
src=$(realpath "$1")
build=$(realpath "$2")
work=$(mktemp -d /tmp/muxbench-install-XXXXXX)
trap 'rm -rf "$work"' EXIT

cmake --install "$build" --prefix "$work/prefix" >/dev/null
(cd "$build" && cpack -G DEB -B "$work/deb" >/dev/null)
deb=$(ls "$work"/deb/*.deb)
# Read whole first: with pipefail, grep -q leaving early would fail dpkg-deb with SIGPIPE.
info=$(dpkg-deb --info "$deb")
grep -q "Depends:.*python3-matplotlib" <<<"$info" || {
  echo "install_test: $deb does not depend on python3-matplotlib" >&2
  exit 1
}
dpkg-deb -x "$deb" "$work/debroot"

if ! unshare -m --propagation private true 2>/dev/null; then
  echo "install_test: skipped: cannot make a mount namespace here (needs root and unshare)"
  exit 77
fi

for root in "$work/prefix" "$work/debroot/usr"; do
  out="$work/run-$(basename "$(dirname "$root")")-$(basename "$root")"
  unshare -m --propagation private sh -c '
    mount -t tmpfs none "$1" && exec "$2/bin/sweep" --backends epoll-lt --idle 0 \
      --series closed-split --duration 300ms --warmup 100ms --micro-filter none --out "$3"' \
    sh "$src" "$root" "$out" >"$work/sweep.log" 2>&1 || {
    cat "$work/sweep.log" >&2
    echo "install_test: the sweep installed under $root failed" >&2
    exit 1
  }
  for file in sweep.json summary.md index.html cpu_per_message.svg; do
    [[ -s "$out/$file" ]] || {
      cat "$work/sweep.log" >&2
      echo "install_test: $root's sweep wrote no $file" >&2
      exit 1
    }
  done
  echo "install_test: the sweep under $root ran with the source tree hidden"
done
