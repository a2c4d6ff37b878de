#!/bin/sh
# The simulation table of docs/experiments.md: each data set's hold-out replayed through the
# service layer (TeamService) with the experiment files in benchmarks/experiments/.
# Run from the repository root with the data sets in ../shared/data; timings are under load.
set -e
TEAMREC=${TEAMREC:-.venv/bin/teamrec}
DATA=${DATA:-../shared/data}
DESKDROP="--format deskdrop --experiment benchmarks/experiments/deskdrop.toml --action click --log1p"
# Deskdrop: the event strengths and log1p of its offline benchmark (docs/benchmarks.md).
STRENGTHS="--kind-value VIEW=1 --kind-value LIKE=2 --kind-value BOOKMARK=2.5 --kind-value FOLLOW=3"
SLACK="--format slack-export --experiment benchmarks/experiments/slack.toml"

echo "== ml-100k, the last 20% in time"
$TEAMREC simulate "$DATA/ml-100k" --format movielens \
    --experiment benchmarks/experiments/ml100k.toml --max-visits 3000
echo "== Deskdrop, whole (person, article) pairs held out at random"
$TEAMREC simulate "$DATA/deskdrop/users_interactions.csv" $DESKDROP $STRENGTHS \
    --kind-value 'COMMENT CREATED=4' --split random --max-visits 3000
echo "== Deskdrop, the last 20% in time, the models as trained at the cut-off"
$TEAMREC simulate "$DATA/deskdrop/users_interactions.csv" $DESKDROP $STRENGTHS \
    --kind-value 'COMMENT CREATED=4' --max-visits 3000
echo "== Deskdrop, the last 20% in time, news-style: every held-out event streamed, a refresh every 100"
$TEAMREC simulate "$DATA/deskdrop/users_interactions.csv" $DESKDROP $STRENGTHS \
    --kind-value 'COMMENT CREATED=4' --max-visits 3000 --stream --refresh-every 100
echo "== Slack export, memberships held out at random (k=10, the whole hold-out clickable)"
$TEAMREC simulate "$DATA/slack-export-sample" $SLACK
echo "== Slack export, at random, k=3, only the visit's own channel clickable"
$TEAMREC simulate "$DATA/slack-export-sample" $SLACK --split random --k 3 --clickable visit
echo "== Slack export, the last 20% in time, streamed, refreshed as the service's defaults would (k=3)"
$TEAMREC simulate "$DATA/slack-export-sample" $SLACK --split time --stream --k 3 --refresh-seconds 300
echo "== Slack export offline: where each arm ranks the held-out memberships"
${PYTHON:-.venv/bin/python} benchmarks/slack_holdout_ranks.py "$DATA/slack-export-sample"
