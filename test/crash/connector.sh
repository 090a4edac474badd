#!/bin/sh
# The exec connector of the crash tests (test/crash/README.md): `connector.sh ACTION STATE` reads
# the grant as JSON on stdin and appends one line to STATE:
#   ACTION REQUEST_ID SERVER_PID UNIX_TIME ENDS_AT
# One short line written with O_APPEND is one write(2), so lines of concurrent calls never mix.
# SERVER_PID is the caller's pid (argv runs directly, no shell), which tells server lifetimes apart.
in=$(cat)
# Like any program that parses its input: a grant cut short (the server was killed while writing
# it) is refused, and so is a call whose caller is already gone (nobody would record the outcome;
# the next server repeats the call).
case $in in *\}) ;; *) echo "incomplete input" >&2; exit 1 ;; esac
comm=
read -r comm </proc/$PPID/comm 2>/dev/null || true
[ "$comm" = breakglass ] || { echo "the caller is gone" >&2; exit 1; }
id=${in#*\"request_id\":\"}
id=${id%%\"*}
end=${in#*\"ends_at\":\"}
end=${end%%\"*}
printf '%s %s %s %s %s\n' "$1" "$id" "$PPID" "$(date +%s.%N)" "$end" >>"$2"
