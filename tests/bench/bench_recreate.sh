#!/usr/bin/env bash
# bench_recreate.sh - what `dockline recreate` costs against doing its
# steps with the docker CLI by hand, on real parts, in the same run:
#
#   DL_BIN=build-rel/bin bash tests/bench/bench_recreate.sh [REPS]
#   (default 7 repetitions of each, interleaved; about 1 minute)
#
# dockline: `dockline recreate bench/NAME --pull --image REG/app:v1`
#   through the collector, sshd and the agent: pull, inspect, inspect the
#   image, create (restart policy "no"), stop, rename old, rename new,
#   start, wait until it ran 3 s (DL_DEPLOY_SETTLE_MS), give it the old's
#   restart policy (update), remove old.
# docker CLI: the same steps by hand, one `docker` process each: pull,
#   inspect, create, stop, rename, rename, start, rm.
# docker CLI + check: the same, then `sleep 3` and an inspect that it
#   runs: the check recreate makes, so the ratio against it is what the
#   path (CLI -> collector -> sshd -> agent) and the probation update
#   cost, and the ratio against the bare steps what recreate costs in
#   all (its 3 s check is most of it).
#
# The image is the test image pushed to a private registry on loopback
# (Debian's docker-registry), so the pulls are real registry round trips
# (the layers are present: "up to date"). Its process is `sh -c 'trap
# "exit 0" TERM; sleep 100000 & wait'`: it exits on SIGTERM at once, so
# `stop` costs what Docker's stop costs, not the 10 s stop timeout.
# Nothing here asserts on time (the machine is shared).
DL_TEST_NAME=bench_recreate
. "$(dirname "$0")/../integration/lib.sh"

REPS=${1:-7}
HOST=bench
SETTLE=3

dl_need_packages
dl_need_dockerd
dl_need_image
dl_need_user
dl_docker_lock_shared
dl_check_bins
[ -x /usr/bin/docker-registry ] || dl_fail "docker-registry is not installed"
[ -n "${EPOCHREALTIME:-}" ] || dl_fail "bash without EPOCHREALTIME (needs bash 5)"
now_us() { NOW=${EPOCHREALTIME//[!0-9]/}; }
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'; }
ms() { awk -v u="$1" 'BEGIN { printf "%.0f", u / 1000 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

# ---- the registry and the image
dl_start_registry
IMG=$DL_REGISTRY/dlbench/app-$DL_REGISTRY_TID:v1
trap 'rc=$?; docker rmi -f "$IMG" >/dev/null 2>&1; (exit $rc); dl_cleanup' EXIT
docker tag "$DL_IMAGE" "$IMG"
docker push -q "$IMG" >/dev/null || dl_fail "docker push $IMG"

dl_start_sshd
dl_start_collector
dl_enroll "$HOST"
DL_CONTROL_ALLOW=all dl_start_agent "$HOST"
dl_wait_for "dl_host_online $HOST" 30 "host $HOST online"

pfx="dl-${T##*/}"
DLC=("$DL_BIN/dockline" -s "$T/admin.sock")
CMD='trap "exit 0" TERM; sleep 100000 & wait'
ARGS=(--label "dockline.test=$T" --restart unless-stopped -e MODE=bench)
DLN=$pfx-dl
DKN=$pfx-dk
docker run -d --name "$DLN" "${ARGS[@]}" "$IMG" sh -c "$CMD" >/dev/null
docker run -d --name "$DKN" "${ARGS[@]}" "$IMG" sh -c "$CMD" >/dev/null
dl_wait_for "dl_items ps --host $HOST | grep -q '\"$DLN\"'" 30 "$DLN in ps"

by_hand() { # NAME [check]
	local n=$1
	docker pull -q "$IMG" >/dev/null &&
		docker inspect "$n" >/dev/null &&
		docker create --name "$n-new" "${ARGS[@]}" "$IMG" sh -c "$CMD" >/dev/null &&
		docker stop -t 10 "$n" >/dev/null &&
		docker rename "$n" "$n-old" &&
		docker rename "$n-new" "$n" &&
		docker start "$n" >/dev/null || return 1
	if [ -n "${2:-}" ]; then
		sleep "$SETTLE"
		[ "$(docker inspect -f '{{.State.Running}}' "$n")" = true ] || return 1
	fi
	docker rm "$n-old" >/dev/null
}

: >"$T/t.dl"
: >"$T/t.dk"
: >"$T/t.dkc"
for i in $(seq 0 "$REPS"); do
	now_us; t0=$NOW
	"${DLC[@]}" recreate "$HOST/$DLN" --pull --image "$IMG" >"$T/out" 2>&1 ||
		dl_fail "dockline recreate: $(cat "$T/out")"
	now_us; t1=$NOW
	by_hand "$DKN" || dl_fail "docker CLI recreate failed"
	now_us; t2=$NOW
	by_hand "$DKN" check || dl_fail "docker CLI recreate + check failed"
	now_us
	[ "$i" = 0 ] && continue # the warm-up
	echo $((t1 - t0)) >>"$T/t.dl"
	echo $((t2 - t1)) >>"$T/t.dk"
	echo $((NOW - t2)) >>"$T/t.dkc"
done
grep -q "recreated $DLN: $IMG -> $IMG" "$T/out" || dl_fail "unexpected answer: $(cat "$T/out")"
[ "$(docker inspect -f '{{.HostConfig.RestartPolicy.Name}}' "$DLN")" = unless-stopped ] ||
	dl_fail "the recreated container lost its restart policy"
[ "$(docker ps -aq --filter "label=dockline.test=$T" | wc -l)" = 2 ] ||
	dl_fail "old containers left behind: $(docker ps -a --filter "label=dockline.test=$T" --format '{{.Names}}')"

M_DL=$(median <"$T/t.dl")
M_DK=$(median <"$T/t.dk")
M_DKC=$(median <"$T/t.dkc")
printf '\nrecreate of one running container (pull of a present image from a\n'
printf 'loopback registry, process exits on SIGTERM), median of %s runs each\n' "$REPS"
printf 'after a warm-up, interleaved; times in ms (min / median / max)\n\n'
printf '%-44s %8s %8s %8s %10s\n' "" min median max "ratio"
row() { # LABEL FILE MEDIAN BASE
	printf '%-44s %8s %8s %8s %10s\n' "$1" "$(ms "$(sort -n "$2" | head -1)")" "$(ms "$3")" \
		"$(ms "$(sort -n "$2" | tail -1)")" "$4"
}
row "docker CLI, steps by hand (baseline)" "$T/t.dk" "$M_DK" "1.00"
row "docker CLI + ${SETTLE} s running check" "$T/t.dkc" "$M_DKC" "$(ratio "$M_DKC" "$M_DK")"
row "dockline recreate --pull --image" "$T/t.dl" "$M_DL" "$(ratio "$M_DL" "$M_DK")"
printf '\ndockline recreate / (docker CLI + check): %s\n' "$(ratio "$M_DL" "$M_DKC")"
printf 'dockline recreate - (docker CLI + check): %s ms (the path, the\n' "$(ms $((M_DL - M_DKC)))"
printf '  polling at 500 ms and the restart-policy update)\n'
printf 'load average at the end: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
