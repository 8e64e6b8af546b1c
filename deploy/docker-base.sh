#!/usr/bin/env bash
# Makes sure the image deploy/Dockerfile starts FROM (debian:bookworm-slim) exists in the local Docker
# engine. Where an image registry is reachable it is simply pulled; where none is (an offline machine
# with only a Debian package mirror), it is built from Debian packages with mmdebstrap and imported
# under the same name, so the same Dockerfile serves both. Idempotent: does nothing when the image is
# already there.
#   deploy/docker-base.sh            # ensure debian:bookworm-slim
#   ODAC_BASE_IMAGE=debian:bookworm-slim ODAC_DEBIAN_MIRROR=http://deb.debian.org/debian deploy/docker-base.sh
#   deploy/docker-base.sh --no-pull  # never try the registry, build locally when missing
set -euo pipefail
image=${ODAC_BASE_IMAGE:-debian:bookworm-slim}
mirror=${ODAC_DEBIAN_MIRROR:-http://deb.debian.org/debian}
security=${ODAC_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
try_pull=1
[ "${1:-}" = "--no-pull" ] && try_pull=0

if docker image inspect "$image" >/dev/null 2>&1; then
  echo "docker-base: $image is present"
  exit 0
fi
if [ "$try_pull" = 1 ] && timeout 60 docker pull "$image" >/dev/null 2>&1; then
  echo "docker-base: pulled $image"
  exit 0
fi

echo "docker-base: $image not present$([ "$try_pull" = 1 ] && echo " and not pullable"): building it with mmdebstrap from $mirror"
if ! command -v mmdebstrap >/dev/null; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends mmdebstrap
fi
suite=${image#*:}
suite=${suite%-slim}
# mmdebstrap runs the hook with the new root as $1 (expanded there, not here).
# shellcheck disable=SC2016
clean_hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin'
# minbase: essential packages plus apt, like the official slim image. The hooks drop what a slim
# image leaves out (apt lists, docs, man pages, locales), and keep apt from installing recommends.
mmdebstrap --variant=minbase --quiet \
  --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/locale/*' \
  --aptopt='APT::Install-Recommends "false"' \
  --customize-hook="$clean_hook" \
  "$suite" - \
  "deb $mirror $suite main" \
  "deb $mirror $suite-updates main" \
  "deb $security $suite-security main" |
  docker import --change 'CMD ["bash"]' --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --message "mmdebstrap --variant=minbase $suite (deploy/docker-base.sh)" - "$image" >/dev/null
echo "docker-base: built $image ($(docker image inspect -f '{{.Size}}' "$image" | awk '{printf "%.0f MB", $1/1e6}'))"
