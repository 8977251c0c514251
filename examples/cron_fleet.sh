#!/bin/sh
# Renew a fleet from cron: one `cloudrenew apply` over an inventory, a JSON
# report per run, a monthly audit log (re-runs never pay twice), and a
# notification that depends on the exit status.
#
#   # crontab: 03:00 on the 1st, retry on the 2nd (the audit log skips what is done)
#   0 3 1,2 * *  /opt/cloudrenew/examples/cron_fleet.sh /etc/cloudrenew/inventory.json
#
# Credentials come from the environment or ~/.tencentcloud/credentials and
# ~/.volc/config (never from the inventory). Settings:
#   CLOUDRENEW          the command (default: cloudrenew on PATH)
#   CLOUDRENEW_LOG_DIR  reports and audit logs (default /var/log/cloudrenew)
#   CLOUDRENEW_NOTIFY   a command given one line of text (default: logger -t cloudrenew)
set -u
inventory=${1:?usage: cron_fleet.sh INVENTORY.json}
cmd=${CLOUDRENEW:-cloudrenew}
logdir=${CLOUDRENEW_LOG_DIR:-/var/log/cloudrenew}
notify=${CLOUDRENEW_NOTIFY:-logger -t cloudrenew}
mkdir -p "$logdir" || exit 2
report="$logdir/run-$(date +%Y%m%dT%H%M%S).json"

# %Y-%m is expanded by cloudrenew itself: cron would treat a bare % as a newline.
$cmd apply "$inventory" --json --audit-log "$logdir/renewals-%Y-%m.jsonl" >"$report"
rc=$?
case $rc in
  0) msg="fleet renewal done ($report)" ;;
  1) msg="some renewals failed or could not be priced: see $report" ;;
  2) msg="bad input (inventory, credentials or audit log), nothing was renewed: see $report" ;;
  3) msg="UNKNOWN renewal outcomes: check them in the console before anything else; see $report" ;;
  *) msg="cloudrenew exited $rc: see $report" ;;
esac
$notify "$msg"
exit $rc
