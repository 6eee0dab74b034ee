#!/usr/bin/env bash
# dockline apply end to end: a three-container stack (db with a health
# check <- api <- web) starts in dependency order, each after what it
# depends on runs (db: is healthy), checked from docker inspect StartedAt
# and db's health log; applying again changes nothing; a container under
# another image stops the apply with the host untouched; a dependency
# that exits stops its dependents; a cycle is a usage error; --down
# removes in reverse order, and again finds them absent.
. "$(dirname "$0")/lib.sh"

dl_need_all

dl_start_sshd
dl_start_collector
dl_enroll app1
DL_CONTROL_ALLOW="read, lifecycle, destructive, deploy" dl_start_agent app1
dl_wait_for 'dl_host_online app1' 30 "app1 online"

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
ns() { date -d "$1" +%s%N; } # RFC 3339 (Docker's) -> unix ns
pfx="dl-${T##*/}"
other="dltest-apply-$(printf '%s' "${T##*/}" | tr 'A-Z.' 'a-z-'):v1"
trap 'rc=$?; docker rmi "$other" >/dev/null 2>&1 || true; (exit $rc); dl_cleanup' EXIT

# web is first in the file: the order comes from depends_on alone.
stack() { # IMAGE_OF_DB DB_CMD
	cat <<EOF
{"containers": [
 {"name": "$pfx-web", "image": "$DL_IMAGE", "cmd": ["sleep", "1000"],
  "depends_on": ["$pfx-api"], "labels": {"dockline.test": "$T", "tier": "web"},
  "env": ["API=$pfx-api"], "restart": "no"},
 {"name": "$pfx-api", "image": "$DL_IMAGE", "cmd": ["sleep", "1000"],
  "depends_on": ["$pfx-db"], "labels": {"dockline.test": "$T"}},
 {"name": "$pfx-db", "image": "$1", "cmd": $2,
  "labels": {"dockline.test": "$T"},
  "health": {"cmd": "sleep 2; true", "interval": "1s"}}
]}
EOF
}
stack "$DL_IMAGE" '["sleep", "1000"]' >"$T/stack.json"

# ---- up, in order
dl_ctl 0 apply app1 "$T/stack.json"
dl_assert_match "created in order db, api, web" \
	"^$pfx-db: created [0-9a-f]{12}
$pfx-api: created [0-9a-f]{12}
$pfx-web: created [0-9a-f]{12}$" "$out"
for c in db api web; do
	dl_assert_eq "$c running" running "$(insp '{{.State.Status}}' "$pfx-$c")"
done
db=$(ns "$(insp '{{.State.StartedAt}}' "$pfx-db")")
api=$(ns "$(insp '{{.State.StartedAt}}' "$pfx-api")")
web=$(ns "$(insp '{{.State.StartedAt}}' "$pfx-web")")
[ "$db" -lt "$api" ] && [ "$api" -lt "$web" ] ||
	dl_fail "StartedAt not in dependency order: db $db api $api web $web"
dl_ok "StartedAt: db < api < web"
# db's health check sleeps 2 s: api may start only after db was healthy.
healthy=$(docker inspect "$pfx-db" | jq -r '[.[0].State.Health.Log[] | select(.ExitCode == 0) | .End][0]')
[ "$healthy" != null ] || dl_fail "db has no passing health check"
[ "$(ns "$healthy")" -le "$api" ] ||
	dl_fail "api started ($api) before db was healthy ($(ns "$healthy"))"
[ "$((api - db))" -ge 2000000000 ] || dl_fail "api started less than 2 s after db"
dl_ok "api started after db's first passing health check"
dl_assert_eq "labels from the object" web "$(insp '{{index .Config.Labels "tier"}}' "$pfx-web")"
dl_assert_match "env" "API=$pfx-api" "$(insp '{{json .Config.Env}}' "$pfx-web")"
dl_assert_eq "health cmd" '[CMD-SHELL sleep 2; true]' "$(insp '{{.Config.Healthcheck.Test}}' "$pfx-db")"

# ---- again: nothing changes
ids=$(docker ps -q --no-trunc --filter "label=dockline.test=$T" | sort)
dl_ctl 0 apply app1 "$T/stack.json"
dl_assert_eq "second apply: unchanged" "$pfx-db: unchanged
$pfx-api: unchanged
$pfx-web: unchanged" "$out"
dl_assert_eq "same containers" "$ids" "$(docker ps -q --no-trunc --filter "label=dockline.test=$T" | sort)"

# ---- a stopped one is started, the rest left alone
docker stop -t 1 "$pfx-web" >/dev/null
dl_ctl 0 apply app1 "$T/stack.json"
dl_assert_match "web started" "$pfx-web: started" "$out"
dl_assert_eq "web running again" running "$(insp '{{.State.Status}}' "$pfx-web")"

# ---- another image under the same name: refused, nothing changed
docker tag "$DL_IMAGE" "$other"
stack "$other" '["sleep", "1000"]' >"$T/other.json"
before=$(docker ps -a --filter "label=dockline.test=$T" --format '{{.ID}} {{.Names}} {{.Image}} {{.State}}' | sort)
dl_ctl 1 apply app1 "$T/other.json"
dl_assert_match "names the image" "$pfx-db exists with image $DL_IMAGE, not $other" "$err"
dl_assert_match "says nothing changed" "nothing was changed on app1" "$err"
dl_assert_eq "host as it was" "$before" \
	"$(docker ps -a --filter "label=dockline.test=$T" --format '{{.ID}} {{.Names}} {{.Image}} {{.State}}' | sort)"
docker rmi "$other" >/dev/null

# ---- bad files: usage errors before any call
printf '{"containers":[{"name":"a","image":"x","depends_on":["b"]},{"name":"b","image":"x","depends_on":["a"]}]}' >"$T/cycle.json"
dl_ctl 2 apply app1 "$T/cycle.json"
dl_assert_match "cycle named" 'depends_on has a cycle: a -> b -> a' "$err"
printf '{"containers":[{"name":"a","image":"x"},{"name":"b","image":"x","envv":[]}]}' >"$T/key.json"
dl_ctl 2 apply app1 "$T/key.json"
dl_assert_match "unknown key with its path" 'containers\[1\]\.envv: unknown key' "$err"

# ---- down: reverse order, then nothing left
dl_ctl 0 apply app1 "$T/stack.json" --down
dl_assert_eq "removed web, api, db" "$pfx-web: removed
$pfx-api: removed
$pfx-db: removed" "$out"
dl_assert_eq "no container left" 0 "$(docker ps -aq --filter "label=dockline.test=$T" | wc -l)"
dl_ctl 0 apply app1 "$T/stack.json" --down
dl_assert_match "again: absent" "^$pfx-web: absent" "$out"

# ---- a dependency that exits: its dependents are not started
stack "$DL_IMAGE" '["sh", "-c", "exit 3"]' >"$T/exits.json"
dl_ctl 1 apply app1 "$T/exits.json" --wait 20s
dl_assert_match "says why" "app1/$pfx-db is (exited|unhealthy).*exit code 3.*dependents were not started" "$err"
docker inspect "$pfx-api" >/dev/null 2>&1 && dl_fail "api was created after db exited"
dl_ok "api and web not created"
dl_ctl 0 apply app1 "$T/exits.json" --down
