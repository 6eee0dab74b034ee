#!/usr/bin/env bash
# The web page in a real browser: Debian's headless Chromium driven by
# python3-selenium against the whole stack (dockerd, sshd, serve, agent,
# gateway). As a person would: a wrong token gets a clear message; a
# read token shows the host online with its containers and charts with
# points; a `docker stop` done outside shows in the live events feed; no
# Stop button for read, and a forged POST (from the page, and by curl
# with the cookie but another Origin) is refused; an operate token's
# Stop button stops a real container (docker inspect agrees) and an
# audit row appears; logs follow shows a line printed after the page
# opened; the fleet shows the unhealthy count serve's hosts answer
# carries (a container failing its health check) without fetching the
# containers; the audit list of 300+ rows is virtualised (few rows in
# the DOM) and its oldest row is reached by scrolling, another by the
# filter; rename in the page renames the real container (docker inspect
# agrees) and the page follows the new name; an admin's prune, limited
# to this test's label and confirmed first, removes exactly its stopped
# containers; no request leaves the gateway's origin. Host labels set
# with `dockline label` (two more agents) show as chips on the fleet and
# in the host's facts, escaped (one carries HTML) and cut when long; the
# label filter (typed, kept in the URL across a reload, or built by
# clicking chips) shows exactly the hosts the CLI's --label would.
# Screenshots go to build/web-screens/ (DL_WEB_SCREENS overrides).
#
# DL_WEB_HOLD=1: set up the stack, print the URL and tokens, and wait
# (for working on the page by hand).
. "$(dirname "$0")/lib.sh"

dl_need_packages
dl_need_dockerd
dl_need_image
dl_need_user
dl_need_http_user
dl_check_bins
dl_docker_lock_shared

export DL_STATS_INTERVAL=1
HTTP_PORT=$(dl_free_port)
URL=http://127.0.0.1:$HTTP_PORT
SCREENS=${DL_WEB_SCREENS:-$(dirname "$DL_BIN")/web-screens}
mkdir -p "$SCREENS"
dl_write_collector_conf
dl_http_section "127.0.0.1:$HTTP_PORT" >>"$T/collector.conf"
dl_start_sshd
dl_start_collector
dl_http_socket_access
dl_enroll web1
DL_CONTROL_ALLOW="read, lifecycle, destructive" dl_start_agent web1
dl_wait_for 'dl_host_online web1' 30 "host web1 online"
dl_start_gateway "$T/collector.conf" "$T/http.log" "$URL"

secret() { # NAME ARGS...: prints the new token's secret
	local name=$1 o
	shift
	o=$(dl_cli token create "$name" "$@") || dl_fail "token create $name: $o"
	grep -oE '^dlt_[A-Za-z0-9_-]{43}$' <<<"$o" || dl_fail "no secret in: $o"
}
RO=$(secret web-ro --role read)
OPS=$(secret web-ops --role operate)
ADMIN=$(secret web-admin --role admin)

pfx="dl-${T##*/}"
app=$(dl_run_container app sh -c 'i=0; while :; do i=$((i+1)); echo tick-$i; echo warn-$i >&2; sleep 1; done')
victim=$(dl_run_container victim sleep 100000)
outside=$(dl_run_container outside sleep 100000)
# prints whatever is written to /tmp/say (the image has no rm)
dl_run_container chatty sh -c 'last=; while :; do s=$(cat /tmp/say 2>/dev/null); if [ "$s" != "$last" ]; then echo "$s"; last=$s; fi; sleep 0.2; done' >/dev/null
# fails its health check at once: the fleet counts it as unhealthy
docker run -d --label "dockline.test=$T" --name "dl-${T##*/}-sick" --health-cmd false \
	--health-interval 1s --health-retries 1 "$DL_IMAGE" sleep 100000 >/dev/null
dl_wait_for "[ \"\$(dl_ps_field $outside state)\" = running ]" 20 "containers in ps"
# a few chart points (12 s buckets for 1 h at 300 points), so the charts have lines
dl_wait_for "[ \$(curl -s -H 'Authorization: Bearer $RO' '$URL/api/v1/hosts/web1/containers/$pfx-app/history?since=1h&points=300' | jq 'length') -ge 3 ]" 60 "app has 3 chart points (the page's query)"

if [ -n "${DL_WEB_HOLD:-}" ]; then
	dl_log "holding: $URL  read $RO  operate $OPS  admin $ADMIN  prefix $pfx"
	printf 'URL=%s\nRO=%s\nOPS=%s\nADMIN=%s\nPFX=%s\nT=%s\n' "$URL" "$RO" "$OPS" "$ADMIN" "$pfx" "$T" >/tmp/dl-web-hold.env
	sleep "${DL_WEB_HOLD_S:-3600}"
	exit 0
fi

# ---- headers, by curl
hdr=$(curl -s -D - -o /dev/null "$URL/")
dl_assert_match "index: the CSP" "content-security-policy: default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'" "$hdr"
dl_assert_eq "index: one CSP only" 1 "$(grep -ci '^content-security-policy:' <<<"$hdr")"
dl_assert_match "index: no-cache" "cache-control: no-cache" "$hdr"
dl_assert_match "index: nosniff" "x-content-type-options: nosniff" "$hdr"
dl_assert_match "index: no referrer" "referrer-policy: no-referrer" "$hdr"
asset=$(curl -s "$URL/" | grep -oE '/assets/app\.[0-9a-f]{12}\.js' | head -n 1)
[ -n "$asset" ] || dl_fail "index names no hashed app.js"
hdr=$(curl -s -D - -o /dev/null "$URL$asset")
dl_assert_match "asset: immutable for a year" "cache-control: public, max-age=31536000, immutable" "$hdr"
dl_assert_match "asset: JavaScript" "content-type: text/javascript" "$hdr"
code=$(curl -s -o /dev/null -w '%{http_code}' "$URL/assets/app.js")
dl_assert_eq "unhashed asset name: 404" 404 "$code"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
	-d "{\"token\":\"$RO\"}" "$URL/api/v1/session")
dl_assert_eq "sign-in without Origin: 403" 403 "$code"
hdr=$(curl -s -D - -o "$T/body" -H "Origin: $URL" -d "{\"token\":\"$RO\"}" "$URL/api/v1/session")
dl_assert_match "sign-in sets the cookie" "set-cookie: dl_token=$RO; HttpOnly; SameSite=Strict; Path=/" "$hdr"
dl_assert_eq "sign-in answers whoami" '{"name":"web-ro","role":"read","hosts":"*"}' "$(jq -c . "$T/body")"
hdr=$(curl -s -D - -o /dev/null -X DELETE -H "Origin: $URL" "$URL/api/v1/session")
dl_assert_match "sign-out clears the cookie" "set-cookie: dl_token=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0" "$hdr"
code=$(curl -s -o "$T/body" -w '%{http_code}' -X POST -H "Authorization: Bearer $OPS" \
	"$URL/api/v1/hosts/web1/containers/$pfx-outside/pause")
dl_assert_eq "Bearer needs no Origin" 200 "$code"
curl -s -o /dev/null -X POST -H "Authorization: Bearer $OPS" "$URL/api/v1/hosts/web1/containers/$pfx-outside/unpause"

# ---- a long audit list (refused at once, no agent call): the page
# virtualises it, web_check.py scrolls and filters to rows in it
FLOOD=300
for i in $(seq 1 $FLOOD); do
	curl -s -o /dev/null -X POST -H "Authorization: Bearer $RO" "$URL/api/v1/hosts/web1/containers/flood-$i/stop"
done
n=$(curl -s -H "Authorization: Bearer $RO" "$URL/api/v1/audit?limit=5000" | jq '[.[] | select((.target // "") | startswith("flood-"))] | length')
dl_assert_eq "the refused requests are audited" "$FLOOD" "$n"

# ---- the browser
URL=$URL RO=$RO OPS=$OPS ADMIN=$ADMIN LABEL="dockline.test=$T" FLOOD=$FLOOD PFX=$pfx SCREENS=$SCREENS /usr/bin/python3 "$DL_SRC/tests/integration/web_check.py" ||
	dl_fail "web_check.py failed (screenshots in $SCREENS)"

# ---- host labels: two more real agents (only now: the checks above
# count web1 as the fleet's one problem), labels set by the real CLI,
# then the page's chips, label filter and host facts (web_check.py
# PHASE=labels). One value carries HTML, one is long (cut in the chip).
for h in web2 web3; do
	dl_enroll "$h"
	dl_start_agent "$h"
done
dl_wait_for 'dl_host_online web2 && dl_host_online web3' 30 "hosts web2 and web3 online"
XSS='<img src=x onerror=window.__xss=1>&amp;"q"'
LONG="a-very-long-label-value-that-does-not-fit-in-a-chip-$(printf 'x%.0s' $(seq 1 40))"
dl_cli label web1 role=web zone=a dc/rack=r-7 tier=front >/dev/null || dl_fail "dockline label web1"
dl_cli label web2 role=web zone=b "desc=$LONG" >/dev/null || dl_fail "dockline label web2"
dl_cli label web3 role=db zone=a "note=$XSS" >/dev/null || dl_fail "dockline label web3"
CLI_WEB=$(dl_cli hosts --label role=web --json | jq -r 'map(.name) | sort | join(" ")')
dl_assert_eq "the CLI's --label role=web" "web1 web2" "$CLI_WEB"
dl_assert_eq "the hosts answer carries web3's labels" "$XSS" \
	"$(curl -s -H "Authorization: Bearer $RO" "$URL/api/v1/hosts" | jq -r '.[] | select(.name == "web3") | .labels.note')"
PHASE=labels XSS=$XSS LONG=$LONG CLI_WEB=$CLI_WEB URL=$URL RO=$RO OPS=$OPS ADMIN=$ADMIN LABEL="dockline.test=$T" FLOOD=$FLOOD PFX=$pfx SCREENS=$SCREENS \
	/usr/bin/python3 "$DL_SRC/tests/integration/web_check.py" ||
	dl_fail "web_check.py PHASE=labels failed (screenshots in $SCREENS)"
