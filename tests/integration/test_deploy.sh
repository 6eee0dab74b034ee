#!/usr/bin/env bash
# Deploy end to end against a real registry on loopback (Debian's
# docker-registry): pull streams progress and fetches the image; run
# starts a container whose env, ports, mounts, labels and restart policy
# docker inspect confirms; update changes its restart policy and memory;
# recreate --pull --image :v2 moves it to v2 keeping configuration and
# name (restart policy "no" while it is checked, the old one's after);
# a v3 that exits at once is rolled back with the host left as it was and
# its own exit code in the message; a host whose policy lacks deploy refuses (exit 5); a fleet-wide
# restart shows ok/offline per host and exits non-zero.
. "$(dirname "$0")/lib.sh"

dl_need_all

# ---- the registry: v1 (the test image), v2 (another label), v3 (exits)
mkdir -p "$T/data"
dl_start_registry
REG=$DL_REGISTRY/dltest/app-$DL_REGISTRY_TID
deploy_cleanup() {
	docker rmi -f "$REG:v1" "$REG:v2" "$REG:v3" >/dev/null 2>&1 || true
}
trap 'rc=$?; deploy_cleanup; (exit $rc); dl_cleanup' EXIT

rootfs=$(docker create "$DL_IMAGE" true)
docker export "$rootfs" >"$T/rootfs.tar"
docker rm "$rootfs" >/dev/null
docker tag "$DL_IMAGE" "$REG:v1"
docker import -c 'ENV PATH=/bin' -c 'LABEL dltest.version=v2' "$T/rootfs.tar" "$REG:v2" >/dev/null
docker import -c 'ENV PATH=/bin' -c 'LABEL dltest.version=v3' \
	-c 'ENTRYPOINT ["sh", "-c", "exit 3"]' "$T/rootfs.tar" "$REG:v3" >/dev/null
for v in v1 v2 v3; do
	docker push -q "$REG:$v" >/dev/null || dl_fail "docker push $REG:$v"
done
# Only the registry has them now: pulls are real.
docker rmi "$REG:v1" "$REG:v2" "$REG:v3" >/dev/null
dl_ok "registry holds $REG:v1 v2 v3"

dl_start_sshd
dl_start_collector
dl_enroll dep1
dl_enroll dep2
dl_enroll nodep
DL_CONTROL_ALLOW="read, lifecycle, deploy" dl_start_agent dep1
DL_CONTROL_ALLOW="read, lifecycle, deploy" dl_start_agent dep2
dl_start_agent nodep # the default policy: no deploy
dl_wait_for 'dl_host_online dep1 && dl_host_online dep2 && dl_host_online nodep' 30 "hosts online"

dl_ctl() {
	local want=$1 rc=0
	shift
	dl_cli "$@" >"$T/out" 2>"$T/err" || rc=$?
	out=$(cat "$T/out")
	err=$(cat "$T/err")
	[ "$rc" = "$want" ] || dl_fail "dockline $*: exit $rc, expected $want; stderr: $err; stdout: ${out:0:600}"
	dl_ok "dockline $* -> exit $rc"
}
insp() { docker inspect -f "$1" "$2"; }
pfx="dl-${T##*/}"

# ---- pull
dl_ctl 0 pull dep1 "$REG:v1"
dl_assert_match "pull streamed Docker's progress" 'Pull complete|Downloaded newer image|Status:' "$out"
docker image inspect "$REG:v1" >/dev/null || dl_fail "docker has no $REG:v1 after pull"
dl_ok "docker images has $REG:v1"
dl_ctl 1 pull dep1 "$REG:nosuch"
dl_assert_match "a missing tag is Docker's sentence" 'dep1: pull .*nosuch' "$err"

# ---- run
HP=$(dl_free_port)
dl_ctl 0 run dep1 "$REG:v1" --name "$pfx-app" -e FOO=bar -p "$HP:8080" \
	-v "$T/data:/data:ro" --restart unless-stopped --label "dockline.test=$T" \
	--label app=dltest -- sleep 1000
id1=$out
dl_assert_eq "run answers the new id" "$id1" "$(insp '{{.Id}}' "$pfx-app")"
dl_assert_eq "running" running "$(insp '{{.State.Status}}' "$id1")"
dl_assert_match "env" 'FOO=bar' "$(insp '{{json .Config.Env}}' "$id1")"
dl_assert_eq "port" "$HP" "$(insp '{{(index (index .HostConfig.PortBindings "8080/tcp") 0).HostPort}}' "$id1")"
dl_assert_eq "mount" "$T/data /data false" "$(insp '{{range .Mounts}}{{.Source}} {{.Destination}} {{.RW}}{{end}}' "$id1")"
dl_assert_eq "label" dltest "$(insp '{{index .Config.Labels "app"}}' "$id1")"
dl_assert_eq "restart policy" unless-stopped "$(insp '{{.HostConfig.RestartPolicy.Name}}' "$id1")"
dl_assert_eq "cmd" '[sleep 1000]' "$(insp '{{.Config.Cmd}}' "$id1")"
dl_ctl 2 run dep1 "$REG:v1" -p 70000:80
dl_ctl 2 run dep1 "$REG:v1" -v relative/x:/x
dl_ctl 2 run dep1 "$REG:v1" --restart sometimes

# ---- update
dl_ctl 0 update "dep1/$pfx-app" --restart always --memory 64m
dl_assert_eq "update: restart" always "$(insp '{{.HostConfig.RestartPolicy.Name}}' "$id1")"
dl_assert_eq "update: memory" 67108864 "$(insp '{{.HostConfig.Memory}}' "$id1")"

# ---- recreate to v2: same name and configuration, new image
dl_ctl 0 recreate "dep1/$pfx-app" --pull --image "$REG:v2"
dl_assert_match "recreate says before and after" "recreated $pfx-app: $REG:v1 -> $REG:v2" "$out"
id2=$(insp '{{.Id}}' "$pfx-app")
[ "$id2" != "$id1" ] || dl_fail "recreate kept the old container"
dl_assert_eq "v2 image" "$REG:v2" "$(insp '{{.Config.Image}}' "$id2")"
dl_assert_eq "v2 image label" v2 "$(insp '{{index .Config.Labels "dltest.version"}}' "$id2")"
dl_assert_eq "v2 running" running "$(insp '{{.State.Status}}' "$id2")"
dl_assert_match "v2 env kept" 'FOO=bar' "$(insp '{{json .Config.Env}}' "$id2")"
dl_assert_eq "v2 port kept" "$HP" "$(insp '{{(index (index .HostConfig.PortBindings "8080/tcp") 0).HostPort}}' "$id2")"
dl_assert_eq "v2 mount kept" "$T/data /data false" "$(insp '{{range .Mounts}}{{.Source}} {{.Destination}} {{.RW}}{{end}}' "$id2")"
dl_assert_eq "v2 label kept" dltest "$(insp '{{index .Config.Labels "app"}}' "$id2")"
# (created with "no" for probation, given "always" back after it passed)
dl_assert_eq "v2 restart kept" always "$(insp '{{.HostConfig.RestartPolicy.Name}}' "$id2")"
dl_assert_eq "v2 memory kept" 67108864 "$(insp '{{.HostConfig.Memory}}' "$id2")"
dl_assert_eq "one container left" 1 "$(docker ps -aq --filter "label=app=dltest" --filter "label=dockline.test=$T" | wc -l)"

# ---- recreate to v3, which exits at once: rolled back to v2
before=$(docker ps -a --filter "label=dockline.test=$T" --format '{{.ID}} {{.Names}} {{.Image}} {{.State}}' | sort)
dl_ctl 1 recreate "dep1/$pfx-app" --pull --image "$REG:v3" --wait 20s
# v2 runs with restart policy always, but during probation the new
# container has policy "no": it stays exited and its own exit code is
# the reason, never "restarted N times"
dl_assert_match "rollback said so, with v3's exit code" "recreate $pfx-app \\($REG:v2 -> $REG:v3\\) failed: the new container stopped \\(exited, exit code 3\\); rolled back: $pfx-app runs $REG:v2" "$err"
after=$(docker ps -a --filter "label=dockline.test=$T" --format '{{.ID}} {{.Names}} {{.Image}} {{.State}}' | sort)
dl_assert_eq "host left as it was (docker ps -a)" "$before" "$after"

# ---- audit keeps images before and after
audit=$(dl_cli audit --json 2>/dev/null || true)
dl_assert_match "audit: recreate's images" "$REG:v1 -> $REG:v2" "$audit"

# ---- policy without deploy
dl_ctl 5 run nodep "$REG:v1" --name "$pfx-refused" --label "dockline.test=$T"
dl_assert_match "refused with the host's sentence" '^dockline: nodep policy does not allow run \(allowed: read, lifecycle\)' "$err"
docker inspect "$pfx-refused" >/dev/null 2>&1 && dl_fail "a refused run created a container"

# ---- fleet: dep1 ok, dep2 offline
kill "$DL_AGENT_PID_dep2"
dl_wait_for '! dl_host_online dep2' 30 "dep2 offline"
dl_ctl 1 restart --hosts 'dep*' "$pfx-app" -t 1
dl_assert_match "table: dep1 ok" 'dep1 +ok ' "$out"
dl_assert_match "table: dep2 offline" 'dep2 +offline +dep2 is offline' "$out"
dl_ctl 1 restart --hosts 'dep*' "$pfx-app" -t 1 --json
dl_assert_eq "json per host" "dep1=ok dep2=offline" "$(jq -r 'map("\(.host)=\(.result)") | join(" ")' <<<"$out")"
dl_ctl 0 restart --hosts 'dep1' "$pfx-app" -t 1

