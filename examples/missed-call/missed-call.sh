#!/bin/sh
# missed-call.sh: the seed's missed-call script, redone for the exec rules
# of `sipbus notifier`.
#
# SER ran such a script from exec_msg() in a failure_route, with the
# request's headers as SIP_HF_* variables, and piped a mail to sendmail.
# sipbus runs it once per sipbus.call.missed.v1 event (whatever the
# redeliveries and replicas), directly (no shell of sipbus's own between
# the event and the program), with the event's fields as SIP_* variables
# and the event itself as JSON on stdin. See README.md beside it.
#
# Safety: every value that came from the network (the caller's name and
# URI) is data here: always quoted ("$VAR"), never evaluated, never part
# of a command line. The recipient is the subscriber's address from the
# directory and goes to sendmail as an argument (never -t, which would take
# recipients from the headers); header values are cut to one line of
# printable characters.
set -eu

to=${SIP_CALLEE_EMAIL:-}
if [ -z "$to" ]; then
	echo "missed-call: ${SIP_CALLEE_AOR:-the callee} has no e-mail address: nothing to send"
	exit 0
fi

# clean VALUE: one line, control characters removed, at most 120 bytes.
clean() {
	printf '%s' "$1" | tr -d '\000-\037\177' | head -c 120
}

caller=$(clean "${SIP_CALLER_DISPLAY:-}")
uri=$(clean "${SIP_CALLER_URI:-}")
[ -n "$caller" ] || caller=${uri:-an unknown caller}

{
	printf 'From: %s\n' "$(clean "${MAIL_FROM:-sipbus@localhost}")"
	printf 'To: %s\n' "$to"
	printf 'Subject: Missed call from %s\n' "$caller"
	printf 'Auto-Submitted: auto-generated\n'
	printf 'MIME-Version: 1.0\n'
	printf 'Content-Type: text/plain; charset=UTF-8\n'
	printf '\n'
	printf 'You missed a call from %s <%s>.\n' "$caller" "$uri"
	printf 'Why: %s (SIP %s)\n' "${SIP_REASON_TEXT:-}" "${SIP_STATUS:-}"
	printf 'When: %s (UTC)\n' "${SIP_ENDED_AT:-}"
	printf 'Call-ID: %s\n' "$(clean "${SIP_HF_CALLID:-}")"
} | "${SENDMAIL:-/usr/sbin/sendmail}" -i -- "$to"

echo "missed-call: mailed $to about a call from $caller"
