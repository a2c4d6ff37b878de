#!/bin/sh
# The simulation table of docs/experiments.md: each data set's hold-out replayed through the
# service layer (TeamService) with the experiment files in benchmarks/experiments/.
# Run from the repository root with the data sets in ../shared/data; timings are under load.
set -e
TEAMREC=${TEAMREC:-.venv/bin/teamrec}
DATA=${DATA:-../shared/data}
$TEAMREC simulate "$DATA/ml-100k" --format movielens \
    --experiment benchmarks/experiments/ml100k.toml --max-visits 3000
# Deskdrop: the event strengths and log1p of its offline benchmark (docs/benchmarks.md), first
# with whole (person, article) pairs held out at random, then the last 20% in time.
$TEAMREC simulate "$DATA/deskdrop/users_interactions.csv" --format deskdrop \
    --experiment benchmarks/experiments/deskdrop.toml --action click --split random --log1p \
    --kind-value VIEW=1 --kind-value LIKE=2 --kind-value BOOKMARK=2.5 --kind-value FOLLOW=3 \
    --kind-value 'COMMENT CREATED=4' --max-visits 3000
$TEAMREC simulate "$DATA/deskdrop/users_interactions.csv" --format deskdrop \
    --experiment benchmarks/experiments/deskdrop.toml --action click --log1p \
    --kind-value VIEW=1 --kind-value LIKE=2 --kind-value BOOKMARK=2.5 --kind-value FOLLOW=3 \
    --kind-value 'COMMENT CREATED=4' --max-visits 3000
$TEAMREC simulate "$DATA/slack-export-sample" --format slack-export \
    --experiment benchmarks/experiments/slack.toml
