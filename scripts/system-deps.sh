#!/usr/bin/env bash
# Build tools the Rust core needs that pip and cargo cannot install: cmake and nasm build the
# bundled libjpeg-turbo 3 (SIMD). With `--test`, also what the tests need and must not skip
# without: chromium (the report test opens the HTML audit in a real headless browser) and the
# Debian packages of real images the reference tests compare on (tests/README.md): wallpapers
# and backgrounds (real JPEG/PNG/WebP photos) Fashion-MNIST (real 28x28 images) and ViSP video frames (real camera runs, for the split tests), about
# 205 MB to download. Installs with apt-get when missing and we are root.
set -euo pipefail
missing=()
command -v cmake >/dev/null || missing+=(cmake)
command -v nasm >/dev/null || missing+=(nasm)
if [ "${1:-}" = "--test" ]; then
  command -v chromium >/dev/null || command -v chromium-browser >/dev/null || missing+=(chromium)
  [ -d /usr/share/wallpapers ] || missing+=(plasma-workspace-wallpapers)
  [ -d /usr/share/backgrounds/mate ] || missing+=(mate-backgrounds)
  [ -d /usr/share/backgrounds/gnome ] || missing+=(gnome-backgrounds)
  [ -d /usr/share/datasets/fashion-mnist ] || missing+=(dataset-fashion-mnist)
  [ -d /usr/share/visp-images-data ] || missing+=(visp-images-data)
fi
command -v cargo >/dev/null || { echo "error: Rust (cargo) is required: https://rustup.rs" >&2; exit 1; }
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing ${missing[*]} with apt-get"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "error: please install ${missing[*]} (e.g. sudo apt-get install ${missing[*]})" >&2
    exit 1
  fi
fi
