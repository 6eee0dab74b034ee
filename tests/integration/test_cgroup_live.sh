#!/usr/bin/env bash
# agent/cgroup.c against the real thing: a container spinning `yes` and an
# idle one, sampled through tests/bench/bench_cgroup (files opened once,
# pread per sample). The busy one must show > 50 % CPU over 2 s and the
# idle one < 5 %, and memory must agree with `docker stats` within 5 % or
# 1 MiB, whichever is larger. Works on cgroup v1 and v2 hosts alike.
. "$(dirname "$0")/lib.sh"

BENCH=${DL_BENCH:-$DL_BIN/../bench/bench_cgroup}

dl_need_packages
dl_need_dockerd
dl_need_image
dl_docker_lock_shared
[ -x "$BENCH" ] || dl_fail "$BENCH is missing: build first (cmake --build build --target bench_cgroup)"
[ -d /sys/fs/cgroup ] || dl_fail "/sys/fs/cgroup is missing: no cgroup filesystem to read"

dl_log "cgroup v$(docker info --format '{{.CgroupVersion}}'), driver $(docker info --format '{{.CgroupDriver}}')"

busy=$(dl_run_container busy sh -c 'yes > /dev/null')
idle=$(dl_run_container idle sleep 3600)
busy_pid=$(docker inspect -f '{{.State.Pid}}' "$busy")
idle_pid=$(docker inspect -f '{{.State.Pid}}' "$idle")
dl_log "busy $busy (pid $busy_pid), idle $idle (pid $idle_pid)"
sleep 1 # let yes get going and the idle one settle after exec

field() { # ID12 KEY
	grep "^id=$1 " <<<"$out" | tr ' ' '\n' | sed -n "s/^$2=//p"
}

# Other tests share these 2 CPUs: a window where `yes` was starved is
# measured again (3 tries), a wrong formula fails all three.
for try in 1 2 3; do
	out=$("$BENCH" -n 200 -i 2000 "$busy:$busy_pid" "$idle:$idle_pid") ||
		dl_fail "bench_cgroup failed: $out"
	dl_log "bench_cgroup (try $try):"$'\n'"$out"
	awk -v b="$(field "${busy:0:12}" cpu_pct)" -v i="$(field "${idle:0:12}" cpu_pct)" \
		'BEGIN { exit !(b > 50 && i >= 0 && i < 5) }' && break
done

# Every field known on a container with a network namespace.
for c in "${busy:0:12}" "${idle:0:12}"; do
	dl_assert_eq "$c all fields valid" 0x3f "$(field "$c" valid)"
	dl_assert_match "$c pids" '^[1-9][0-9]*$' "$(field "$c" pids)"
	dl_assert_match "$c cpu_ns" '^[1-9][0-9]*$' "$(field "$c" cpu_ns)"
done

busy_pct=$(field "${busy:0:12}" cpu_pct)
idle_pct=$(field "${idle:0:12}" cpu_pct)
awk -v p="$busy_pct" 'BEGIN { exit !(p > 50) }' ||
	dl_fail "busy container CPU $busy_pct %, want > 50"
dl_ok "busy container CPU $busy_pct % > 50"
awk -v p="$idle_pct" 'BEGIN { exit !(p >= 0 && p < 5) }' ||
	dl_fail "idle container CPU $idle_pct %, want < 5"
dl_ok "idle container CPU $idle_pct % < 5"

# "652KiB / 23.54GiB", "1.5MiB / 64MiB", "0B / 0B" -> bytes of the usage.
docker_mem_bytes() {
	docker stats --no-stream --format '{{.MemUsage}}' "$1" |
		awk '{ v = $1; u = v; sub(/^[0-9.]+/, "", u); sub(/[A-Za-z]+$/, "", v)
		       m = 1
		       if (u == "KiB" || u == "kB") m = 1024
		       else if (u == "MiB" || u == "MB") m = 1048576
		       else if (u == "GiB" || u == "GB") m = 1073741824
		       else if (u != "B") { print "unit:" u; exit }
		       printf "%.0f\n", v * m }'
}

# docker stats rounds to 3 significant digits and samples at its own
# moment, so compare with ours taken right after it, both ways.
for c in "$idle" "$busy"; do
	pid=$(docker inspect -f '{{.State.Pid}}' "$c")
	theirs=$(docker_mem_bytes "$c")
	ours=$("$BENCH" -n 1 "$c:$pid" | grep '^id=' | tr ' ' '\n' | sed -n 's/^mem_usage=//p')
	dl_assert_match "docker stats memory of ${c:0:12} parsed" '^[0-9]+$' "$theirs"
	dl_assert_match "our memory of ${c:0:12}" '^[0-9]+$' "$ours"
	awk -v a="$ours" -v b="$theirs" 'BEGIN {
		d = a - b; if (d < 0) d = -d
		tol = b * 0.05; if (tol < 1048576) tol = 1048576
		exit !(d <= tol) }' ||
		dl_fail "memory of ${c:0:12}: ours $ours B, docker stats $theirs B"
	dl_ok "memory of ${c:0:12}: ours $ours B, docker stats $theirs B"
done

# The container gone: its cgroup files vanish and a kept-open reader must
# say so instead of repeating the last numbers.
docker rm -f "$idle" >/dev/null
out=$("$BENCH" -n 1 "$busy:$busy_pid") || dl_fail "busy container no longer readable"
dl_ok "busy container still readable after the idle one was removed"
if "$BENCH" -n 1 "$idle:$idle_pid" >/dev/null 2>&1; then
	dl_fail "a removed container opened fine"
fi
dl_ok "a removed container is refused"
