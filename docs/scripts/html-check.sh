#!/bin/sh
# html-check.sh sends lessons 1, 26 and 52, the confirmation and the closing
# email, the way twostep really sends them, to a local Mailpit, and prints
# Mailpit's HTML compatibility score (caniemail data) for each. See
# docs/EMAIL.md.
#
# Run from the repository root:  sh docs/scripts/html-check.sh
#
# Needs: go, curl, jq, createdb/dropdb, a PostgreSQL that PGURL reaches, and
# mailpit (go install github.com/axllent/mailpit@v1.33.1). It starts its own
# Mailpit and twostep on local ports, in a throwaway database, and stops and
# drops them at the end. Nothing leaves the machine: Mailpit runs with its
# version check off, and "mailpit version" (which calls out) is never run.
#
# Settings (environment):
#   MAILPIT    the mailpit binary   (default: $(go env GOPATH)/bin/mailpit)
#   PGURL      server URL, no db    (default: postgres://postgres@127.0.0.1:5432)
#   PORT_BASE  first of 3 ports     (default: 18025: HTTP, +1 SMTP, +2 twostep)
#   MIN        lowest passing score (default: 92; exit 1 below it)
#   VERBOSE    set: list every feature that costs, for each email
#   OUT        a folder: keep each email's HTML part there (to look at it)
set -eu

MAILPIT=${MAILPIT:-$(go env GOPATH)/bin/mailpit}
PGURL=${PGURL:-postgres://postgres@127.0.0.1:5432}
PORT_BASE=${PORT_BASE:-18025}
MIN=${MIN:-92}
HTTP=127.0.0.1:$PORT_BASE
SMTP=127.0.0.1:$((PORT_BASE + 1))
APP=127.0.0.1:$((PORT_BASE + 2))
API=http://$HTTP/api/v1

tmp=$(mktemp -d)
db=twostep_htmlcheck_$$
mailpit_pid= serve_pid=
cleanup() {
	[ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null
	[ -n "$mailpit_pid" ] && kill "$mailpit_pid" 2>/dev/null && wait "$mailpit_pid" 2>/dev/null
	dropdb --if-exists --maintenance-db="$PGURL/postgres" "$db" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

die() { echo "html-check: $*" >&2; exit 1; }
[ -x "$MAILPIT" ] || die "no mailpit at $MAILPIT: go install github.com/axllent/mailpit@v1.33.1"

go build -o "$tmp/twostep" ./cmd/twostep
createdb --maintenance-db="$PGURL/postgres" "$db"
export DATABASE_URL="$PGURL/$db?sslmode=disable"
export SMTP_URL="smtp://$SMTP?tls=none"
export BASE_URL=https://twostep.example LISTEN_ADDR=$APP SEND_SCHEDULE='@every 24h'
export SECRET_KEY=html-check-html-check-html-check-0123

"$MAILPIT" --listen "$HTTP" --smtp "$SMTP" --database "$tmp/mailpit.db" \
	--disable-version-check --smtp-disable-rdns --quiet >"$tmp/mailpit.log" 2>&1 &
mailpit_pid=$!
"$MAILPIT" readyz --listen "$HTTP" --wait --timeout 30s >/dev/null

"$tmp/twostep" migrate >/dev/null 2>"$tmp/migrate.log"

# wait_for SUBJECT-PREFIX: the id of the first message whose subject starts so.
wait_for() {
	i=0
	while [ $i -lt 60 ]; do
		id=$(curl -fsS "$API/messages?limit=50" |
			jq -r --arg s "$1" '[.messages[] | select(.Subject | startswith($s))][0].ID // empty')
		[ -n "$id" ] && { echo "$id"; return; }
		i=$((i + 1))
		sleep 0.5
	done
	die "no message with a subject starting \"$1\" reached Mailpit"
}

# Lessons: the real message, as `lessons preview` prints it, through SMTP.
for n in 1 26 52; do
	"$tmp/twostep" lessons preview "$n" --format eml |
		"$MAILPIT" sendmail -S "$SMTP" -f lessons@twostep.example reader@example.com
done

# The confirmation: a signup through the real form, sent by serve's outbox.
"$tmp/twostep" serve 2>"$tmp/serve.log" &
serve_pid=$!
i=0
until curl -fsS "http://$APP/readyz" >/dev/null 2>&1; do
	i=$((i + 1))
	[ $i -lt 60 ] || die "twostep serve did not start: $(cat "$tmp/serve.log")"
	sleep 0.5
done
curl -fsS -o /dev/null -d email=signup@example.com -d name=Alex -d tz=Europe/Dublin "http://$APP/subscribe"
wait_for "Please confirm" >/dev/null
kill "$serve_pid" && wait "$serve_pid" || true
serve_pid=

# The closing email: a reader due for lesson 52 finishes the course.
printf 'email,name,tz,next_lesson,confirmed_at\ngraduate@example.com,Alex,UTC,52,2026-01-01T00:00:00Z\n' >"$tmp/graduate.csv"
"$tmp/twostep" subscribers import "$tmp/graduate.csv" >/dev/null 2>&1
later=$(date -u -d '+8 days' +%Y-%m-%dT%H:%M:%SZ)
# The first run sends lesson 52 and queues the closing email; a second
# run flushes the outbox again in case the first did so before the pass.
"$tmp/twostep" send --now "$later" >/dev/null 2>>"$tmp/send.log"
"$tmp/twostep" send --now "$later" >/dev/null 2>>"$tmp/send.log"
wait_for "You finished" >/dev/null

status=0
printf '%-44s %9s %8s %11s\n' email supported partial unsupported
for s in "Lesson 1 of" "Lesson 26 of" "Lesson 52 of" "Please confirm" "You finished"; do
	id=$(wait_for "$s")
	curl -fsS "$API/message/$id/html-check" >"$tmp/check.json"
	curl -fsS "$API/message/$id" >"$tmp/message.json"
	subject=$(jq -r .Subject "$tmp/message.json")
	if [ -n "${OUT:-}" ]; then
		mkdir -p "$OUT"
		jq -r .HTML "$tmp/message.json" >"$OUT/$(echo "$s" | tr 'A-Z ' 'a-z-' | tr -cd 'a-z0-9-').html"
	fi
	jq -r --arg s "$subject" '.Total | [$s[0:44], (.Supported, .Partial, .Unsupported | . * 100 | round / 100 | tostring + "%")] | @tsv' "$tmp/check.json" |
		awk -F '\t' '{ printf "%-44s %9s %8s %11s\n", $1, $2, $3, $4 }'
	if [ -n "${VERBOSE:-}" ]; then
		# What costs: each feature found, on how many nodes, and how well supported.
		jq -r '.Warnings[] | "    \(.Title) (\(.Score.Found)×): \(.Score.Supported * 10 | round / 10)% yes, \(.Score.Partial * 10 | round / 10)% partial, \(.Score.Unsupported * 10 | round / 10)% no"' "$tmp/check.json"
	fi
	jq -e --argjson min "$MIN" '.Total.Supported >= $min' "$tmp/check.json" >/dev/null || status=1
done
exit $status
