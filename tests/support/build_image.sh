#!/usr/bin/env bash
# Build scaler's container image with no registry and no network in the image build
# (docs/image.md; tests/image runs it):
#   1. a Debian bookworm base made with debootstrap (minbase, Python 3.11, git, ssh), trimmed
#      and committed with buildah; cached as localhost/scaler-base:bookworm-<hash of recipe>;
#   2. wheels of the project and its runtime dependencies built on this host with pip
#      (host Python 3.11 = bookworm's, so compiled wheels match);
#   3. `buildah bud` of the repository's Dockerfile, which installs them with --no-index.
# Usage (as root): tests/support/build_image.sh [IMAGE]   default IMAGE: localhost/scaler:<version>
# Prints `base: NAME`, `image: NAME`, `size: BYTES` and `seconds: N` last.
# Environment: SCALER_DEBIAN_MIRROR (default http://deb.debian.org/debian),
# SCALER_IMAGE_CACHE (default /var/cache/scaler-image: lock, scratch space and debootstrap's
# downloaded .debs, checked against the mirror's index before reuse).
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
start=$SECONDS
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$repo/pyproject.toml")
image=${1:-localhost/scaler:$version}
mirror=${SCALER_DEBIAN_MIRROR:-http://deb.debian.org/debian}
cache=${SCALER_IMAGE_CACHE:-/var/cache/scaler-image}
suite=bookworm
# No python3-venv: the Dockerfile makes its venv without pip and runs pip from pip's wheel, so
# ensurepip's bundled wheels, distutils and lib2to3 stay out of the image.
packages=python3,git,openssh-client,ca-certificates
buildah=(buildah --storage-driver vfs)

die() { echo "build_image.sh: $*" >&2; exit 2; }
[ "$(id -u)" = 0 ] || die "run as root (debootstrap and buildah's vfs storage need it)"
for tool in buildah debootstrap python3; do
    command -v "$tool" >/dev/null || die "$tool not found (apt-get install buildah debootstrap)"
done
python3 -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' \
    || die "python3 is not 3.11: wheels built here would not match bookworm's Python 3.11"

# Trim what a read-only controller never runs: apt's lists and caches, docs (copyright files
# stay), man pages, translations; git's Perl (only Perl-based subcommands such as send-email
# and svn use it), its manual, and its servers and helpers (daemon, shell, http-backend,
# http-push, imap-send, scalar, the shell scripts' envsubst). dpkg's database keeps knowing
# what is installed (an image built FROM this one runs `apt-get -f install` first to get
# perl back).
make_rootfs() {
    local root=$1
    mkdir -p "$cache/debs"
    debootstrap --variant=minbase --cache-dir="$cache/debs" --include="$packages" "$suite" "$root" \
            "$mirror" >"$root.log" 2>&1 \
        || { tail -20 "$root.log" >&2; die "debootstrap failed (log: $root.log)"; }
    chroot "$root" dpkg --purge --force-depends perl perl-modules-5.36 libperl5.36 liberror-perl \
        git-man >/dev/null 2>&1
    # a container makes and checks no file systems (minbase has e2fsprogs as "required" only)
    chroot "$root" dpkg --purge e2fsprogs logsave libext2fs2 libss2 >/dev/null 2>&1 \
        || die "could not purge e2fsprogs from the base"
    rm -rf "$root"/var/cache/apt/* "$root"/var/lib/apt/lists/* "$root"/var/log/* \
        "$root"/var/cache/debconf/*-old "$root"/usr/share/{man,info,locale,lintian}
    find "$root/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
    find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
    rm -f "$root"/usr/lib/git-core/{git-daemon,git-shell,git-http-backend,git-http-push,git-imap-send,scalar} \
        "$root"/usr/lib/git-core/git-sh-i18n--envsubst "$root"/usr/bin/{git-shell,scalar}
    # glibc's iconv modules for legacy charsets: Python has its own codecs, git needs them only
    # for commits in a non-UTF-8 i18n.commitEncoding
    rm -rf "$root"/usr/lib/x86_64-linux-gnu/gconv
    # one copy of the git binary, not two
    cmp -s "$root/usr/bin/git" "$root/usr/lib/git-core/git" && ln -f "$root/usr/bin/git" "$root/usr/lib/git-core/git"
    return 0
}

key=$(printf '%s\n' "$suite" "$packages" "$(declare -f make_rootfs)" | sha256sum | cut -c1-12)
base=localhost/scaler-base:$suite-$key
mkdir -p "$cache"
exec 9>"$cache/lock"
flock 9  # one build at a time: they share the base and the storage

if "${buildah[@]}" inspect --type image "$base" >/dev/null 2>&1; then
    echo "base: $base (cached)"
else
    root=$(mktemp -d "$cache/rootfs.XXXXXX")
    trap 'rm -rf "$root" "$root.log"' EXIT
    make_rootfs "$root"
    ctr=$("${buildah[@]}" from scratch)
    mnt=$("${buildah[@]}" mount "$ctr")
    cp -a "$root/." "$mnt/"
    "${buildah[@]}" umount "$ctr" >/dev/null
    "${buildah[@]}" config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        --env LANG=C.UTF-8 --cmd /bin/bash \
        --label "org.opencontainers.image.description=Debian $suite minbase with $packages" "$ctr"
    "${buildah[@]}" commit --quiet --rm "$ctr" "$base" >/dev/null
    rm -rf "$root" "$root.log"
    trap - EXIT
    echo "base: $base (built in $((SECONDS - start)) s)"
fi
# The Dockerfile's default BASE: the latest base built here
"${buildah[@]}" tag "$base" "localhost/scaler-base:$suite"

# The build context: the Dockerfile, the bundled example and the wheels, in a scratch folder
# (the repository stays untouched: no build/ or dist/ in it).
ctx=$(mktemp -d "$cache/context.XXXXXX")
trap 'rm -rf "$ctx"' EXIT
mkdir -p "$ctx/src"
cp -r "$repo/Dockerfile" "$repo/.dockerignore" "$repo/examples" "$repo/policies" "$ctx/"
cp -r "$repo/pyproject.toml" "$repo/README.md" "$repo/scaler" "$repo/pricing" "$ctx/src/"
find "$ctx" -name __pycache__ -prune -exec rm -rf {} +
# pip's own wheel too: the image build runs pip from it, so pip never lands in the image
python3 -m pip wheel --quiet --disable-pip-version-check --wheel-dir "$ctx/dist/wheels" "$ctx/src" pip \
    2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)

# In a network namespace of its own (chroot isolation always shares the caller's): proof
# that the image build needs no network.
unshare --net "${buildah[@]}" bud --quiet --isolation chroot --build-arg "BASE=$base" \
    --tag "$image" --file "$ctx/Dockerfile" "$ctx" >/dev/null
# Bytes, uncompressed: the image's layers' sizes as the storage records them (what `buildah
# images` shows rounded).
size=$("${buildah[@]}" inspect --type image --format '{{.FromImageID}}' "$image" | python3 -c '
import json, sys
root, image_id = sys.argv[1], sys.stdin.read().strip()
images = {i["id"]: i for i in json.load(open(f"{root}/vfs-images/images.json"))}
layers = {l["id"]: l for l in json.load(open(f"{root}/vfs-layers/layers.json"))}
layer, size = images[image_id]["layer"], 0
while layer:
    size += layers[layer]["diff-size"]
    layer = layers[layer].get("parent")
print(size)' "$("${buildah[@]}" info --format '{{.store.GraphRoot}}')")
echo "image: $image"
echo "size: $size"
echo "seconds: $((SECONDS - start))"
