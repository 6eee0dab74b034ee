#!/usr/bin/env bash
# Fault 6: the collector's disk fills up. Its database lives on a small
# tmpfs of the test's own (FL_FS_MIB); mid-burst a file fills it. The
# writer must hold: no COMMIT, no ack (the agent keeps its frames spooled),
# ONE log line that says so, no crash, nothing dropped or corrupted; when
# the file is removed, everything arrives exactly once and the store says
# once that it is writable again. The mount is undone at exit (DL_UNDO).
. "$(dirname "$0")/lib.sh"

FL_FS_MIB=${FL_FS_MIB:-24}
FL_HOLD_S=${FL_HOLD_S:-8}

mkdir "$T/dbfs"
mount -t tmpfs -o "size=${FL_FS_MIB}m,mode=755" dlfaults "$T/dbfs"
DL_UNDO+=("umount -l $T/dbfs")
export DL_DATABASE=$T/dbfs/dockline.db
FL_DB=$DL_DATABASE
fl_setup
clog=$T/collector.log
full_re='store: database disk is full at '
again_re='store: database .* is writable again'
fl_burst d1
fl_life_start
dl_wait_for '[ "$(fl_burst_stored)" -ge 200 ]' 60 "200 burst events stored before the disk fills"
# Fill it: dd stops at ENOSPC.
dd if=/dev/zero of="$T/dbfs/fill" bs=64k 2>/dev/null || true
tf=$(fl_now)
dl_log "$T/dbfs full ($(df -k --output=avail "$T/dbfs" | tail -n 1 | tr -d ' ') KiB left), $(fl_burst_stored) burst events stored"
# WAL pages already on disk are reused, so the first COMMIT that needs a
# new page is the one that fails: the burst and the samples get there.
dl_wait_for "grep -qE '$full_re' $clog" 90 "the collector says its disk is full"
dl_log "$(grep -E "$full_re" "$clog" | head -n 1)"
held=$(fl_burst_stored)
samples=$(fl_samples_since 0)
dl_never "[ \"\$(fl_burst_stored)\" != $held ] || [ \"\$(fl_samples_since 0)\" != $samples ]" \
	"$FL_HOLD_S" "nothing committed while the disk is full"
kill -0 "$DL_COLLECTOR_PID" || dl_fail "the collector died on a full disk"
dl_assert_eq "the agent is still connected" 1 "$(dl_host_online "$FL_H" && echo 1)"
rm -f "$T/dbfs/fill"
fault=$(awk -v a="$tf" -v b="$(fl_now)" 'BEGIN { printf "%.1f", b - a }')
dl_log "space freed after ${fault}s"
fl_hold_verify "disk is full" "$full_re" "$held" "$clog" "$again_re"
# The agent sampled on: no gap beyond the slack.
fl_report 0 "disk full ${fault}s"
