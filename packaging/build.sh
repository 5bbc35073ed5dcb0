#!/bin/sh
# Build the one-folder bundle and check it: it reports its version, and answers on the embedded model.
set -eu
cd "$(dirname "$0")/.."
python -m pip install -q -c packaging/constraints.txt -e ".[package]"
pyinstaller packaging/grokling.spec --noconfirm --log-level WARN
home=$(mktemp -d)
./dist/grokling/grokling --version
GROKLING_HOME="$home" ./dist/grokling/grokling ask "What is the capital of Japan?" --temperature 0
du -sh dist/grokling
