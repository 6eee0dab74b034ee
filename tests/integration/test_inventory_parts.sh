#!/usr/bin/env bash
# An inventory larger than one frame arrives in parts and is applied whole.
# DL_TEST_INVENTORY_PART_MAX (a test-only agent setting, see
# docs/ARCHITECTURE.md) lowers the split threshold from 1 MiB to 4 KiB, so
# 120 real containers (created, not started, labelled) make several parts:
# `dockline ps -a` shows every one of them. Then 20 are removed while the
# agent is down: the next inventory, in parts again, drops exactly those.
. "$(dirname "$0")/lib.sh"

N=120
GONE=20

dl_need_all

prefix="dl-${T##*/}-p"
dl_log "creating $N containers"
seq 1 "$N" | xargs -P 4 -I{} docker create --label "dockline.test=$T" \
	--label "dl.part.idx={}" --name "$prefix{}" "$DL_IMAGE" sleep 3600 >/dev/null ||
	dl_fail "docker create failed"
[ "$(docker ps -aq --filter "label=dockline.test=$T" | wc -l)" = "$N" ] ||
	dl_fail "expected $N containers created"

# ours: how many of our containers `ps -a` lists for the host.
ours() {
	dl_items ps -a --host inv1 |
		jq -r --arg p "$prefix" 'select(.name | ltrimstr("/") | startswith($p)) | .name' |
		sort -u | wc -l
}

dl_start_sshd
dl_start_collector
dl_enroll inv1
export DL_TEST_INVENTORY_PART_MAX=4096
dl_start_agent inv1
unset DL_TEST_INVENTORY_PART_MAX
dl_wait_for 'dl_host_online inv1' 30 "host inv1 online"
dl_wait_for "[ \$(ours) = $N ]" 60 "all $N containers in ps -a"

parts_line=$(grep -E 'inventory: [0-9]+ containers in [0-9]+ parts' "$T/agent-inv1.log" | head -n 1)
dl_log "agent: $parts_line"
nparts=$(sed -E 's/.* containers in ([0-9]+) parts.*/\1/' <<<"$parts_line")
ncont=$(sed -E 's/.*inventory: ([0-9]+) containers.*/\1/' <<<"$parts_line")
[ -n "$nparts" ] && [ "$nparts" -ge 4 ] || dl_fail "agent sent the inventory in ${nparts:-no} parts, expected at least 4"
[ "$ncont" -ge "$N" ] || dl_fail "agent's inventory had $ncont containers, expected at least $N"
dl_assert_file_match "collector assembled the parts" \
	"inv1: inventory [0-9]+: $ncont containers in $nparts parts" "$T/collector.log"
dl_ok "$ncont containers in $nparts parts, all $N of ours in ps -a"
dl_assert_eq "state of a created container" created \
	"$(dl_items ps -a --host inv1 | jq -r --arg n "${prefix}7" 'select((.name | ltrimstr("/")) == $n) | .state')"
# Labels come with the inspect facts (CONTAINER frames after the parts).
dl_wait_for "[ \"\$(dl_items ps -a --host inv1 --label dl.part.idx=42 | jq -r '.name' | sed 's,^/,,')\" = ${prefix}42 ]" 60 \
	"labels of a container from the parted inventory"

# Agent down; 20 containers removed; agent up: its inventory (in parts)
# replaces the set and only those 20 are gone.
kill -TERM "$DL_AGENT_PID_inv1"
dl_wait_for "! kill -0 $DL_AGENT_PID_inv1 2>/dev/null" 20 "agent stopped"
seq 1 "$GONE" | sed "s/^/$prefix/" | xargs docker rm -f >/dev/null
export DL_TEST_INVENTORY_PART_MAX=4096
dl_start_agent inv1
unset DL_TEST_INVENTORY_PART_MAX
dl_wait_for "[ \$(grep -cE 'inv1: inventory [0-9]+: [0-9]+ containers in [0-9]+ parts' $T/collector.log) -ge 2 ]" 60 \
	"a second inventory in parts"
dl_wait_for "[ \$(ours) = $((N - GONE)) ]" 30 "ps -a shows $((N - GONE)) of ours"
dl_assert_eq "a removed container is gone" "" \
	"$(dl_items ps -a --host inv1 | jq -r --arg n "${prefix}1" 'select((.name | ltrimstr("/")) == $n) | .name')"
dl_assert_no_match "no session closed over a part" 'INVENTORY.*(part|parts)' \
	"$(grep -E 'session.*(closed|ERROR)' "$T/collector.log" || true)"
dl_ok "second inventory in parts dropped exactly the $GONE removed containers"
