#!/bin/sh
# One-shot creation of Sala's Redis Cluster (compose profile `redis-cluster`, service
# redis-cluster-init): waits until every member answers, then `redis-cli --cluster create` with
# one replica per primary, then waits until every member reports cluster_state:ok and every
# replica has synced.
# Idempotent: a cluster that is already ok (every later `up`) is left alone.
#
#   REDIS_CLUSTER_MEMBERS   space-separated host:port of every member (primaries and replicas)
#   REDIS_CLUSTER_REPLICAS  replicas per primary (default 1)
#
# Checked against real redis-server processes by services/chat/test/infra-config.int.test.ts.
set -eu

members="${REDIS_CLUSTER_MEMBERS:?REDIS_CLUSTER_MEMBERS: the members, host:port separated by spaces}"
replicas="${REDIS_CLUSTER_REPLICAS:-1}"

say() { echo "redis-cluster-init: $*"; }
on() { member=$1; shift; redis-cli -h "${member%:*}" -p "${member##*:}" "$@"; }

# Polls `on <member> <command>` until its output contains <text>, for up to 60 s.
wait_for() {
  member=$1 text=$2; shift 2
  tries=0
  until on "$member" "$@" 2>/dev/null | grep -q "$text"; do
    tries=$((tries + 1))
    if [ "$tries" -ge 120 ]; then say "gave up waiting for '$text' from $member" >&2; exit 1; fi
    sleep 0.5
  done
}

for member in $members; do wait_for "$member" PONG ping; done

first="${members%% *}"
if on "$first" cluster info | grep -q "cluster_state:ok"; then
  say "the cluster is already ok: nothing to do"
  exit 0
fi

# CLUSTER MEET (which --cluster create sends) takes addresses, not names, in Redis 7.0: resolve.
addresses=""
for member in $members; do
  address=$(getent ahostsv4 "${member%:*}" | { read -r ip _ && echo "$ip"; }) || true
  if [ -z "$address" ]; then say "cannot resolve ${member%:*}" >&2; exit 1; fi
  addresses="$addresses $address:${member##*:}"
done

say "creating the cluster:$addresses, $replicas replica(s) per primary"
# shellcheck disable=SC2086 # one argument per member
redis-cli --cluster create $addresses --cluster-replicas "$replicas" --cluster-yes

# Ok everywhere, and every replica has finished its first sync: one that has not could not take over.
for member in $members; do
  wait_for "$member" "cluster_state:ok" cluster info
  wait_for "$member" "role:master\|master_link_status:up" info replication
done
say "the cluster is ok"
