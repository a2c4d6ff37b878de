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
DECAYED="--split time --stream --k 3 --no-binary --half-life 1"
echo "== Slack export, the last 20% in time, streamed, k=3, the team's matrix decayed (half-life 1 day), a refresh once an event waited 60 s"
$TEAMREC simulate "$DATA/slack-export-sample" $SLACK $DECAYED --refresh-seconds 60
echo "== the same, other exploration seeds (the arms' lines)"
for seed in 1 2 3 4; do
    $TEAMREC simulate "$DATA/slack-export-sample" $SLACK $DECAYED --refresh-seconds 60 --seed $seed \
        | grep -E '^(popularity|ease) +[0-9]|^off-policy' | sed "s/^/seed $seed: /"
done
echo "== the same, refreshed as the service's defaults would (an event waited 300 s)"
$TEAMREC simulate "$DATA/slack-export-sample" $SLACK $DECAYED --refresh-seconds 300 | grep -E '^(popularity|ease) +[0-9]'
echo "== the same, a refresh after 60 s, the matrix not decayed"
$TEAMREC simulate "$DATA/slack-export-sample" $SLACK --split time --stream --k 3 --no-binary --refresh-seconds 60 \
    | grep -E '^(popularity|ease) +[0-9]'
echo "== the decayed design, popularity against popularity by value (recency-weighted) instead of EASE"
$TEAMREC simulate "$DATA/slack-export-sample" --format slack-export --experiment benchmarks/experiments/slack-recent.toml \
    $DECAYED --refresh-seconds 60 | grep -E '^(popularity|recent) +[0-9]|^off-policy'
echo "== Slack export offline: where each arm ranks the held-out memberships"
${PYTHON:-.venv/bin/python} benchmarks/slack_holdout_ranks.py "$DATA/slack-export-sample"
