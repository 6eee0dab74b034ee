#!/usr/bin/env bash
# Host labels and the fleet-wide commands that select by them, with three
# real agents on the local dockerd: `dockline label` sets, lists and
# removes (bounded and checked: bad words are exit 2, an unknown host or
# a 33rd label exit 1, nothing changed); `hosts --labels`, `hosts
# --label` and the hosts JSON show them; every change is an audit row;
# `--label K=V` chooses hosts, `--hosts GLOB --label K=V` the
# intersection; `{host}` in a container name makes it each host's own. Then `recreate --rolling` over the three: the second
# host refuses (its policy lacks deploy), so the third is never asked
# (the table says skipped, no audit row, the container was recreated
# exactly once) and the exit code is 1.
. "$(dirname "$0")/lib.sh"

dl_need_all

dl_start_sshd
dl_start_collector
for h in ro1 ro2 ro3; do dl_enroll "$h"; done
DL_CONTROL_ALLOW="read, lifecycle, deploy" dl_start_agent ro1
dl_start_agent ro2 # the default policy: read, lifecycle (no deploy)
DL_CONTROL_ALLOW="read, lifecycle, deploy" dl_start_agent ro3
dl_wait_for 'dl_host_online ro1 && dl_host_online ro2 && dl_host_online ro3' 30 "hosts online"

dl_ctl() {
	local want=$1 rc=0
	shift
	dl_cli "$@" >"$T/out" 2>"$T/err" || rc=$?
	out=$(cat "$T/out")
	err=$(cat "$T/err")
	[ "$rc" = "$want" ] || dl_fail "dockline $*: exit $rc, expected $want; stderr: $err; stdout: ${out:0:600}"
	dl_ok "dockline $* -> exit $rc"
}

# ---- labels: set, list, remove
dl_ctl 0 label ro1 role=web zone=a tier=roll
dl_assert_eq "set answers the labels" "role=web tier=roll zone=a" "$(echo $out)"
dl_ctl 0 label ro2 role=web tier=roll
dl_ctl 0 label ro3 role=db tier=roll
dl_ctl 0 label ro1
dl_assert_eq "list" "role=web tier=roll zone=a" "$(echo $out)"
dl_ctl 0 label ro1 zone- dc/rack=r-7
dl_assert_eq "remove and set at once" "dc/rack=r-7 role=web tier=roll" "$(echo $out)"
dl_ctl 0 label ro1 --json
dl_assert_eq "label --json" "r-7" "$(jq -r '."dc/rack"' <<<"$out")"
dl_assert_eq "hosts JSON carries labels" "web" "$(dl_host_json ro2 | jq -r .labels.role)"
dl_ctl 0 hosts --labels
dl_assert_match "hosts --labels column" 'ro1 .*dc/rack=r-7,role=web,tier=roll' "$out"
dl_ctl 0 hosts --label role=web --json
dl_assert_eq "hosts --label filters" "ro1 ro2" "$(jq -r 'map(.name) | join(" ")' <<<"$out")"
dl_ctl 2 hosts --label -role
dl_assert_match "hosts --label checks the key as the fleet-wide --label does" '^dockline: hosts --label: label key "-role"' "$err"

# ---- bounded and checked: nothing changes on a refusal
dl_ctl 2 label ro1 'bad key=x'
dl_assert_match "bad key named" 'label key "bad key"' "$err"
dl_ctl 2 label ro1 -role=x
dl_ctl 2 label ro1 role
dl_assert_match "a bare key is explained" 'K=V sets a label, K- removes it' "$err"
dl_ctl 2 label ro1 "role=$(printf 'x%.0s' $(seq 1 129))"
dl_assert_match "value cap" 'over 128 bytes' "$err"
dl_ctl 2 label ro1 role=web role-
dl_assert_match "set and removed" 'both set and removed' "$err"
dl_ctl 1 label nosuch role=web
dl_assert_match "unknown host" 'no host named nosuch' "$err"
many=()
for i in $(seq 1 30); do many+=("k$i=v"); done
dl_ctl 1 label ro1 "${many[@]}"
dl_assert_match "33 labels refused" 'at most 32 labels \(this would make 33\)' "$err"
dl_ctl 0 label ro1
dl_assert_eq "unchanged after refusals" "dc/rack=r-7 role=web tier=roll" "$(echo $out)"

# ---- audited
audit=$(dl_items audit --host ro1 --limit 1000)
dl_assert_match "audit row for a label change" '"op":"label".*"status":"ok"' "$audit"
dl_assert_match "audit row has the edit" 'dc/rack' "$audit"
dl_assert_match "audit row for the refused 33rd" '"op":"label".*"status":"error".*at most 32 labels' "$audit"

# ---- --label selection for fleet commands
pfx="dl-${T##*/}"
# exits on SIGTERM at once (the stop timeout must not dominate)
dl_run_container app sh -c 'trap "exit 0" TERM; while :; do sleep 1; done' >/dev/null
ctr="$pfx-app"
dl_ctl 0 restart --label role=web "$ctr" -t 1 --json
dl_assert_eq "--label role=web: ro1 ro2" "ro1=ok ro2=ok" "$(jq -r 'map("\(.host)=\(.result)") | join(" ")' <<<"$out")"
dl_ctl 0 restart --hosts 'ro[23]' --label role=web "$ctr" -t 1 --json
dl_assert_eq "--hosts and --label intersect" "ro2=ok" "$(jq -r 'map("\(.host)=\(.result)") | join(" ")' <<<"$out")"
dl_ctl 0 restart --label role=web --label dc/rack=r-7 "$ctr" -t 1 --json
dl_assert_eq "two --label: both must match" "ro1" "$(jq -r 'map(.host) | join(" ")' <<<"$out")"
dl_ctl 0 info --label tier=roll --json
dl_assert_eq "host op by label" "ro1 ro2 ro3" "$(jq -r 'map(.host) | join(" ")' <<<"$out")"
# each host its own container: {host} in the name
for h in ro1 ro2 ro3; do
	dl_run_container "own-$h" sh -c 'trap "exit 0" TERM; sleep 100000 & wait' >/dev/null
done
dl_wait_for '[ "$(dl_items ps --host ro3 | grep -c "$pfx-own-")" = 3 ]' 30 "own containers in ps"
before=$(for h in ro1 ro2 ro3; do docker inspect -f '{{.State.StartedAt}}' "$pfx-own-$h"; done)
dl_ctl 0 restart --label tier=roll "$pfx-own-{host}" -t 1 --json
dl_assert_eq "{host}: every host ok" "ro1=ok ro2=ok ro3=ok" "$(jq -r 'map("\(.host)=\(.result)") | join(" ")' <<<"$out")"
for h in ro1 ro2 ro3; do
	b=$(sed -n "${h#ro}p" <<<"$before")
	[ "$(docker inspect -f '{{.State.StartedAt}}' "$pfx-own-$h")" != "$b" ] ||
		dl_fail "$pfx-own-$h was not restarted"
done
dl_ok "{host}: each host restarted its own container"
dl_assert_match "audit names the host's own container" "\"target\":\"$pfx-own-ro2\"" "$(dl_items audit --host ro2 --limit 1000)"
dl_ctl 1 restart --label role=cache "$ctr"
dl_assert_match "no match said so" "no host matches --label role=cache" "$err"
dl_ctl 2 restart --label 'bad key=x' "$ctr"

# ---- --rolling: ro2 fails (refused), ro3 is never asked
id0=$(docker inspect -f '{{.Id}}' "$ctr")
dl_ctl 1 recreate --label tier=roll --rolling "$ctr" --wait 5s
dl_assert_match "table: ro1 ok" 'ro1 +ok +recreated' "$out"
dl_assert_match "table: ro2 refused" 'ro2 +refused +ro2 policy does not allow recreate' "$out"
dl_assert_match "table: ro3 skipped" 'ro3 +skipped +not run: an earlier host failed' "$out"
id1=$(docker inspect -f '{{.Id}}' "$ctr")
[ "$id1" != "$id0" ] || dl_fail "ro1 did not recreate $ctr"
dl_assert_eq "recreated once: the only other container is gone" "" "$(docker ps -aq --filter "id=$id0")"
dl_assert_eq "one container with the name" 1 "$(docker ps -aq --filter "label=dockline.test=$T" --filter "name=^/$ctr$" | wc -l)"
dl_assert_eq "running" running "$(docker inspect -f '{{.State.Status}}' "$id1")"
dl_assert_eq "no recreate audit row for ro3" "" "$(dl_items audit --host ro3 --limit 1000 | jq -r 'select(.op == "recreate") | .op')"
dl_assert_eq "audit: ro1 recreate ok" "ok" "$(dl_items audit --host ro1 --limit 1000 | jq -r 'select(.op == "recreate") | .status')"
dl_assert_eq "audit: ro2 recreate refused" "refused" "$(dl_items audit --host ro2 --limit 1000 | jq -r 'select(.op == "recreate") | .status')"
# and without --rolling every host is asked (ro2 refuses, ro1 and ro3 go)
dl_ctl 1 recreate --label tier=roll "$ctr" --wait 5s --parallel 1 --json
dl_assert_eq "no --rolling: all asked" "ro1=ok ro2=refused ro3=ok" "$(jq -r 'map("\(.host)=\(.result)") | join(" ")' <<<"$out")"
