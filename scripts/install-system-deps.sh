#!/usr/bin/env bash
# Installs what a fresh Debian 12 machine lacks to run the engine without a GPU:
# Mesa's lavapipe Vulkan driver from bookworm-backports (Dawn rejects bookworm's own 22.x),
# and Debian's Chromium for the page tests and the browser benchmark (WebGPU on SwiftShader).
set -euo pipefail
need_apt=0
if ! ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1 \
   || ! dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null | grep -q '^2[5-9]\.'; then
  need_apt=1
fi
command -v chromium >/dev/null 2>&1 || need_apt=1
[ "$need_apt" = 1 ] || { echo "system deps: present"; exit 0; }
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
src=/etc/apt/sources.list.d/bookworm-backports.list
[ -f "$src" ] || echo 'deb http://deb.debian.org/debian bookworm-backports main' | $SUDO tee "$src" >/dev/null
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq -t bookworm-backports mesa-vulkan-drivers >/dev/null
$SUDO apt-get install -y -qq chromium fonts-dejavu-core >/dev/null
echo "system deps: installed mesa-vulkan-drivers $(dpkg-query -W -f='${Version}' mesa-vulkan-drivers), $(chromium --version 2>/dev/null)"
