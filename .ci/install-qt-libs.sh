#!/usr/bin/env bash
# Install what the napari plugin's tests need from Debian: Xvfb (napari draws with OpenGL, which
# Qt's offscreen platform does not provide) and the system libraries of the Qt wheel's xcb
# platform (the PyQt6 wheel bundles Qt itself, not these). Idempotent: does nothing when Xvfb is
# there and the xcb platform plugin finds all its libraries. Needs root (or sudo) and apt.
# Usage: install-qt-libs.sh PYTHON (the venv's interpreter; without the napari extra: nothing to do)
set -euo pipefail
PYTHON=${1:-python3}

qt_dir=$("$PYTHON" -c "import os, PyQt6; print(os.path.join(os.path.dirname(PyQt6.__file__), 'Qt6'))" 2>/dev/null) || {
    echo "install-qt-libs.sh: PyQt6 not installed (no napari extra): nothing to do"; exit 0; }
missing() {
    ldd "$qt_dir/plugins/platforms/libqxcb.so" "$qt_dir/plugins/xcbglintegrations/libqxcb-glx-integration.so" \
        2>/dev/null | grep -q "not found"
}
if command -v Xvfb >/dev/null 2>&1 && ! missing; then
    echo "Xvfb and Qt's xcb libraries already installed"
    exit 0
fi

# The NEEDED libraries of Qt's xcb platform, GLX integration, Gui, OpenGL and DBus (ICU ships in
# the wheel), and Mesa for OpenGL on Xvfb.
bash "$(dirname "$0")/apt-install.sh" "Xvfb and Qt's xcb libraries" - xvfb libgl1 libglx-mesa0 libgl1-mesa-dri libegl1 \
    libdbus-1-3 libfontconfig1 libfreetype6 libglib2.0-0 libzstd1 libx11-xcb1 libxcb-cursor0 libxcb-glx0 \
    libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render-util0 libxcb-shape0 libxcb-sync1 \
    libxcb-util1 libxcb-xfixes0 libxcb-xkb1 libxkbcommon-x11-0
if missing; then
    echo "install-qt-libs.sh: Qt's xcb platform still misses libraries:" >&2
    ldd "$qt_dir/plugins/platforms/libqxcb.so" | grep "not found" >&2
    exit 1
fi
