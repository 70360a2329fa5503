#!/bin/sh
# leftovers.sh snapshot FILE | check FILE
# Lists what ipclab's tests could leave behind — processes of session
# programs and test kernels, /dev/shm and /dev/mqueue entries, SysV objects,
# FIFOs and sockets in the per-user ipc directory, session and build temp
# dirs — and, with check, fails if anything is there that was not in the
# snapshot taken before the tests.
set -eu
list() {
	ls -1 /dev/shm 2>/dev/null | grep '^ipclab-' | sed 's|^|shm |' || true
	ls -1 /dev/mqueue 2>/dev/null | grep '^ipclab-' | sed 's|^|mqueue |' || true
	# SysV objects of this user created by processes that are gone
	for f in /proc/sysvipc/shm /proc/sysvipc/msg; do
		awk -v f="$f" -v uid="$(id -u)" 'NR>1 { for (i=1;i<=NF;i++) if (h[i]=="cpid") c=$i; else if (h[i]=="uid") u=$i;
			if (u==uid && system("test -d /proc/" c)!=0) print "sysv " f " id " $2 } NR==1 { for (i=1;i<=NF;i++) h[i]=$i }' "$f" 2>/dev/null || true
	done
	tmp=${TMPDIR:-/tmp}
	find "$tmp/ipclab-uid-$(id -u)" -mindepth 1 -maxdepth 1 2>/dev/null | sed 's|^|ipcdir |' || true
	find "$tmp" -mindepth 1 -maxdepth 1 \( -name 'ipclab-session-*' -o -name 'ipclab-fakekernel-*' -o -name 'go-link-*' \) 2>/dev/null | sed 's|^|tmp |' || true
	ps -eo pid=,args= | grep -E 'ipclab/built/session-|fakekernel |ipc\.test |sleep 1000$' | grep -v grep | sed 's|^ *[0-9]* *|proc |' || true
}
case "${1:-}" in
snapshot) list | sort > "$2" ;;
check)
	list | sort > "$2.after"
	new=$(comm -13 "$2" "$2.after")
	if [ -n "$new" ]; then
		echo "leftovers after the tests:"; echo "$new"; exit 1
	fi
	echo "== no leftovers (processes, /dev/shm, /dev/mqueue, SysV, ipc dir, temp dirs)" ;;
*) echo "usage: $0 snapshot|check FILE" >&2; exit 2 ;;
esac
