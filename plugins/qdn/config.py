"""Where QuickDumpNow lives in AWS: the one place these names are written down.

Every default here is configuration, not code: the DAGs, the bootstrap, the local stack and the
tests import these names instead of repeating the strings, so a renamed bucket or prefix changes
in one line.
"""

from __future__ import annotations

BUCKET = "quickdumpnow.com"

# Every build lives under its own immutable prefix, builds/<build-id>/, and the distributions'
# S3 origin path is "/builds": the function rewrites each viewer path into the live build's
# folder, so only objects under BUILDS_PREFIX are reachable through the edge (data/, releases/
# stay private), and a release is one write of the live pointer, never a copy.
BUILDS_PREFIX = "builds/"
ORIGIN_PATH = "/" + BUILDS_PREFIX.rstrip("/")
# Names the newest staged build id; a release promotes this one unless told otherwise. It sits
# beside the build folders, never inside one, so the edge cannot serve it.
LATEST_KEY = BUILDS_PREFIX + "LATEST"

# Pages reference their assets as /_b/<build-id>/assets/<name>.<hash>.<ext>: the function serves
# such a path from that build's folder without reading the pointer, so a page loaded just before
# a release (or a rollback) still gets its own assets after the switch, never another build's.
# The build named is the one the asset's content first appeared in, so an unchanged asset keeps
# its URL and the pages referencing it stay byte-identical from build to build.
BUILD_PIN_PREFIX = "/_b/"
ASSETS_DIR = "assets/"

# The layout before atomic releases: production copied into site/, builds staged in staging/.
# Only the bootstrap's one-time migration still reads them.
LEGACY_SITE_PREFIX = "site/"
LEGACY_STAGING_PREFIX = "staging/"

# The live pointer: one key in the CloudFront KeyValueStore associated with the function.
# A release writes it once (IfMatch on the store's ETag); a rollback writes an older id back.
KVS_NAME = "qdn-live"
LIVE_POINTER_KEY = "live"
# Builds kept from expiry besides the live one (and the function's compiled-in fallback): the
# last N releases, so a rollback to any of them is one pointer write. Ten covers weeks of
# releases at our pace while old builds do not pile up for ever.
KEEP_RELEASES = 10

DATA_PREFIX = "data/"
# One object per job, data/jobs/<id>.json: a write touches its own job and nothing else, so
# writers of different jobs never conflict and no cost grows with the history (docs/jobs.md).
JOBS_PREFIX = DATA_PREFIX + "jobs/"
# data/tokens/<sha256 of the token>.json names the job a tracking token belongs to: the track
# API's one lookup, without the token itself ever being a key.
JOB_TOKENS_PREFIX = DATA_PREFIX + "tokens/"
# Empty objects whose keys order the jobs for the dashboard, newest first (docs/jobs.md).
JOB_INDEX_PREFIX = DATA_PREFIX + "index/"
# Finished jobs older than the retention move here; their tracking links stop answering.
JOB_ARCHIVE_PREFIX = DATA_PREFIX + "archive/jobs/"
# Half a year: long enough for every dispute or repeat booking about a job, short enough that the
# dashboard and the exports carry only the jobs someone still asks about.
JOB_RETENTION_DAYS = 180
# A derived export of every job, for ops who read it with `aws s3 cp` as in the old manual
# process; rebuilt by `python -m qdn.cli jobs export`, never written by anything else.
JOBS_KEY = DATA_PREFIX + "jobs.json"
# The old manual process wrote jobs.json at the bucket root; the bootstrap moves it once.
LEGACY_JOBS_KEY = "jobs.json"
BOOKINGS_PREFIX = DATA_PREFIX + "bookings/"

RELEASES_PREFIX = "releases/"
REPORTS_PREFIX = "reports/verify/"

FUNCTION_NAME = "qdn-track-rewrite"
FUNCTION_RUNTIME = "cloudfront-js-2.0"

# Both distributions share origins and behaviours; every release invalidates both.
DISTRIBUTION_ALIASES: tuple[str, ...] = ("quickdumpnow.com", "www.quickdumpnow.com")

ALERTS_TOPIC = "qdn-release-alerts"
AUDIT_LOG_GROUP = "/qdn/jobs/audit"

API_PATH_PREFIX = "/api/"
TRACK_API_PREFIX = API_PATH_PREFIX + "track/"

# The track API's Lambda function URL (real URL ids are lower-case letters and digits only);
# the local CloudFront serves any origin under
# ".lambda-url.<region>.on.aws" from the in-process handler.
TRACK_API_ORIGIN_DOMAIN = "qdntrackapi.lambda-url.us-east-1.on.aws"
SITE_ORIGIN_ID = "site-s3"
API_ORIGIN_ID = "track-api"

# Marker in the shell that staging replaces with the build id; the smoke check reads it back.
BUILD_ID_PLACEHOLDER = "__QDN_BUILD_ID__"
BUILD_ID_META_NAME = "qdn-build-id"

# CloudWatch: our own metrics live in one namespace. The audit log's metric filters count failed
# job writes and refused job inputs (qdn.monitoring); the nightly verification's report puts the
# number of failed checks, so one alarm covers every check.
METRICS_NAMESPACE = "QuickDumpNow"
JOB_WRITE_FAILURES_METRIC = "JobWriteFailures"
JOB_INPUTS_REFUSED_METRIC = "JobInputsRefused"
VERIFICATION_FAILED_METRIC = "VerificationFailedChecks"
# The Lambda function behind the track API's function URL (its 5xx answers are alarmed on).
TRACK_API_FUNCTION = "qdn-track-api"
# On the local stack the alerts topic delivers to this SQS queue, so a rehearsal has a real
# subscriber whose messages can be read back (qdn.monitoring explains why).
ALERTS_LOCAL_QUEUE = "qdn-alerts-local"

# The canary: one permanent synthetic job whose tracking link the nightly verification follows
# through every edge (qdn.canary). Its id is fixed so anyone reading a record, a log line or the
# export recognises it (a valid job id: ten characters of A-Z and 2-7); it has no dashboard index
# entries and never ends, so neither the dashboard nor the archiving ever sees it.
CANARY_JOB_ID = "QDN-CANARYTEST"
# The canary's id and token, for the checks that must open its link. Under data/, so private
# like every job record; it is the one place the token is kept besides the record itself.
CANARY_KEY = DATA_PREFIX + "canary.json"
