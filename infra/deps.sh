#!/usr/bin/env bash
# Starts Concord's dependencies on loopback when they are not already running, without Docker:
# PostgreSQL 5432, Redis 6379, RabbitMQ 5672 (from the machine's packages) and a single-node
# Kafka KRaft broker on 9092 (infra/kafka.sh, from Apache Kafka's jars on Maven Central).
#   bash infra/deps.sh up       start what is missing and wait until every port answers
#   bash infra/deps.sh status   print which ports answer
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() { # name port seconds
  local deadline=$((SECONDS + $3))
  until listening "$2"; do
    if ((SECONDS > deadline)); then echo "deps: $1 did not open port $2 within $3s" >&2; return 1; fi
    sleep 1
  done
  echo "deps: $1 up on 127.0.0.1:$2"
}

start_postgres() {
  command -v pg_ctlcluster >/dev/null || { echo "deps: PostgreSQL is not installed (apt-get install postgresql)" >&2; return 1; }
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start
}
start_redis() {
  command -v redis-server >/dev/null || { echo "deps: Redis is not installed (apt-get install redis-server)" >&2; return 1; }
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
}
start_rabbitmq() {
  command -v rabbitmq-server >/dev/null || { echo "deps: RabbitMQ is not installed (apt-get install rabbitmq-server)" >&2; return 1; }
  rabbitmq-server -detached
}
start_kafka() { bash "$here/kafka.sh" start; }

up() {
  listening 5432 || start_postgres
  listening 6379 || start_redis
  listening 5672 || start_rabbitmq
  listening 9092 || start_kafka
  wait_port postgres 5432 60
  wait_port redis 6379 30
  wait_port rabbitmq 5672 120
  wait_port kafka 9092 120
}

status() {
  for pair in postgres:5432 redis:6379 rabbitmq:5672 kafka:9092; do
    if listening "${pair#*:}"; then echo "${pair%%:*} up"; else echo "${pair%%:*} down"; fi
  done
}

case "${1:-up}" in
  up) up ;;
  status) status ;;
  *) echo "usage: $0 up|status" >&2; exit 2 ;;
esac
