#!/bin/sh
# The torture suite's git run: init, commit twice with fixed dates and
# names, then print the hashes (the same on every run) and a diff stat.
set -e
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null HOME="$PWD"
export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.org GIT_COMMITTER_NAME=t
export GIT_COMMITTER_EMAIL=t@example.org
export GIT_AUTHOR_DATE='2020-01-01T00:00:00Z' GIT_COMMITTER_DATE='2020-01-01T00:00:00Z'
git init -q -b main repo
cd repo
i=0
while [ $i -lt 200 ]; do echo "line $i" >> a.txt; i=$((i + 1)); done
printf 'x\ny\n' > b.txt
git add a.txt b.txt
git commit -q -m first
sed -i 's/line 1/LINE 1/' a.txt
git commit -q -a -m second
git log --format='%H %s'
git diff --stat HEAD~1 HEAD
git gc -q --prune=now
git count-objects -v | grep -v size
