#!/usr/bin/env bash
# Runs a real single-node Apache Kafka broker (KRaft mode: broker and controller in one JVM)
# on 127.0.0.1, for Sazesh's tests and for local use.
#
# Usage:
#   tools/kafka.sh start [--acls] [--fresh]
#                                   start a broker (or find the running one); prints its bootstrap
#                                   address (e.g. 127.0.0.1:23456) as the only line on stdout. A
#                                   broker that died without `stop` is started again on its data
#                                   (topics kept), unless --fresh
#   tools/kafka.sh stop             stop the broker (SIGTERM, SIGKILL after a timeout) and wipe its
#                                   state folder
#   tools/kafka.sh restart          stop the broker process but keep its data, start it again on
#                                   the same ports with the same data; prints the bootstrap again
#   tools/kafka.sh bootstrap        print the running broker's address (exit 1 if none runs)
#   tools/kafka.sh sasl-bootstrap   print the SASL_PLAINTEXT address of a broker started with --acls
#   tools/kafka.sh cluster start [--nodes N]
#                                   a KRaft cluster of N nodes (default 3; each a broker and a
#                                   controller) from $SAZESH_KAFKA_DIR/node-1 … node-N, every topic
#                                   replicated N times with min.insync.replicas N-1; prints the
#                                   bootstrap list (127.0.0.1:P1,127.0.0.1:P2,…)
#   tools/kafka.sh cluster stop|bootstrap
#   tools/kafka.sh cluster kill N   kill -9 node N (its data kept); `cluster start-node N` starts it
#                                   again on its data and ports; `cluster pid N` prints its pid
#   tools/kafka.sh fetch            only download the jars into the cache (e.g. to warm a machine)
#   tools/kafka.sh log [N]          print the last N (default 50) lines of the broker's log
#   tools/kafka.sh topics ARGS...           org.apache.kafka.tools.TopicCommand   (kafka-topics)
#   tools/kafka.sh acls ARGS...             kafka.admin.AclCommand                (kafka-acls)
#   tools/kafka.sh perf ARGS...             org.apache.kafka.tools.ProducerPerformance
#   tools/kafka.sh consumer-perf ARGS...    org.apache.kafka.tools.ConsumerPerformance
#   tools/kafka.sh console-producer ARGS... kafka.tools.ConsoleProducer
#   tools/kafka.sh console-consumer ARGS... org.apache.kafka.tools.consumer.ConsoleConsumer
#   tools/kafka.sh consumer-groups ARGS...  org.apache.kafka.tools.consumer.group.ConsumerGroupCommand
#   tools/kafka.sh configs ARGS...          kafka.admin.ConfigCommand
#   tools/kafka.sh transactions ARGS...     org.apache.kafka.tools.TransactionsCommand
#   tools/kafka.sh run CLASS ARGS...        any Java main class on the Kafka classpath
# The tools connect to nothing by themselves: pass --bootstrap-server "$(tools/kafka.sh bootstrap)".
#
# Jars: org.apache.kafka:kafka_2.13 and org.apache.kafka:kafka-tools (plus the kafka-* modules they
# use, pinned to the same version, and their runtime dependencies: Scala, slf4j + reload4j, ...)
# are fetched once with Maven (a generated pom + dependency:copy-dependencies) into the cache
# folder; later runs use the cache and never call Maven. Kafka 3.9 is used on purpose: Kafka 4
# removed the old request versions that librdkafka 2.0.2 (Debian 12) still sends.
#
# Environment:
#   SAZESH_KAFKA_VERSION        Kafka version (default 3.9.2, the newest 3.9 patch)
#   SAZESH_KAFKA_CACHE          jar cache (default $HOME/.cache/sazesh/kafka-<version>)
#   SAZESH_KAFKA_DIR            state folder: config, data, logs, pid (default /tmp/sazesh-kafka);
#                               `stop` deletes it, so it must be a folder this script made
#   SAZESH_KAFKA_HEAP           broker heap (default 512m)
#   SAZESH_KAFKA_START_TIMEOUT  seconds to wait for the broker to answer (default 90)
#   SAZESH_KAFKA_STOP_TIMEOUT   seconds between SIGTERM and SIGKILL (default 30)
#   SAZESH_KAFKA_TOOL_OPTS      JVM options for the tools (default: -Xmx256m -XX:+UseSerialGC)
#   SAZESH_KAFKA_ACLS=1         same as `start --acls`
#   SAZESH_KAFKA_USERS          SASL/SCRAM users for --acls as "name:password ..." (default "admin:admin-secret
#                               engine:engine-secret agency1:agency1-secret agency2:agency2-secret")
#
# The broker: listeners PLAINTEXT://127.0.0.1:<port> and CONTROLLER://127.0.0.1:<cport> on two free
# ports, 1 partition per new topic, every replication factor and min ISR 1, no automatic topic
# creation, no group rebalance delay, 4 partitions for the internal offsets and transaction-state
# topics (instead of 50, so that the first consumer group or transactional producer is quick), and
# no authorizer. Its log goes to <state>/logs/server.log, never to the console.
#
# ACLs (`start --acls`): over PLAINTEXT no client is authenticated, so every client is
# User:ANONYMOUS and ACLs cannot tell an agency from another. --acls therefore adds a third listener,
# SASL_PLAINTEXT://127.0.0.1:<sport> with the SCRAM-SHA-512 mechanism and the users of SAZESH_KAFKA_USERS,
# and enables org.apache.kafka.metadata.authorizer.StandardAuthorizer with
# super.users=User:admin;User:ANONYMOUS (ANONYMOUS, i.e. the PLAINTEXT and controller listeners,
# stays a super user so that the broker itself, and the admin tools run over PLAINTEXT, keep
# working). A user that is not a super user may do only what an ACL allows. For example:
#   bs=$(tools/kafka.sh start --acls); sasl=$(tools/kafka.sh sasl-bootstrap)
#   tools/kafka.sh topics --bootstrap-server "$bs" --create --topic agency1.events
#   tools/kafka.sh acls --bootstrap-server "$bs" --add --allow-principal User:agency1 \
#       --operation All --topic agency1. --group agency1. --resource-pattern-type prefixed
#   kcat -b "$sasl" -X security.protocol=SASL_PLAINTEXT -X sasl.mechanisms=SCRAM-SHA-512 \
#       -X sasl.username=agency1 -X sasl.password=agency1-secret -C -t agency1.events -e
# For the Java tools, <state>/client-<user>.properties holds a ready client config for each user
# (pass it with --command-config, --producer.config or --consumer.config).
set -euo pipefail

readonly KAFKA_VERSION="${SAZESH_KAFKA_VERSION:-3.9.2}"
readonly SCALA_VERSION="2.13"
CACHE="${SAZESH_KAFKA_CACHE:-${HOME:-/tmp}/.cache/sazesh/kafka-${KAFKA_VERSION}}"
STATE="${SAZESH_KAFKA_DIR:-/tmp/sazesh-kafka}"
readonly HEAP="${SAZESH_KAFKA_HEAP:-512m}"
readonly START_TIMEOUT="${SAZESH_KAFKA_START_TIMEOUT:-90}"
readonly STOP_TIMEOUT="${SAZESH_KAFKA_STOP_TIMEOUT:-30}"
read -r -a TOOL_OPTS <<<"${SAZESH_KAFKA_TOOL_OPTS:--Xmx256m -XX:+UseSerialGC}"
readonly DEFAULT_USERS="admin:admin-secret engine:engine-secret agency1:agency1-secret agency2:agency2-secret"
readonly MARKER=".sazesh-kafka-state"

JAVA="${JAVA_HOME:+$JAVA_HOME/bin/}java"

log() { printf 'kafka.sh: %s\n' "$*" >&2; }
die() { printf 'kafka.sh: error: %s\n' "$*" >&2; exit 1; }

# Absolute, normalised paths, so that the state folder can be recognised in a process's command line.
CACHE="$(realpath -m -- "$CACHE")"
STATE="$(realpath -m -- "$STATE")"
case "$STATE" in
  / | /tmp | /root | /home | /usr | /var | /etc | "${HOME:-/nonexistent}") die "refusing to use $STATE as the state folder" ;;
esac
readonly CACHE STATE
readonly LIBS="$CACHE/libs"
readonly LOCK="${STATE}.lock"

# ---------------------------------------------------------------------------------------------
# Jars

write_pom() {
  local pom="$1" mods="" m
  for m in kafka_${SCALA_VERSION} kafka-tools kafka-clients kafka-server kafka-server-common \
           kafka-storage kafka-storage-api kafka-raft kafka-metadata kafka-group-coordinator \
           kafka-transaction-coordinator; do
    mods+="    <dependency><groupId>org.apache.kafka</groupId><artifactId>${m}</artifactId><version>\${kafka.version}</version></dependency>
"
  done
  cat >"$pom" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<!-- Generated by Sazesh's tools/kafka.sh: the jars of an Apache Kafka broker and its tools. -->
<project>
  <modelVersion>4.0.0</modelVersion>
  <groupId>sazesh.local</groupId>
  <artifactId>kafka-runtime</artifactId>
  <version>${KAFKA_VERSION}</version>
  <packaging>pom</packaging>
  <properties>
    <kafka.version>${KAFKA_VERSION}</kafka.version>
    <project.build.sourceEncoding>UTF-8</project.build.sourceEncoding>
  </properties>
  <dependencies>
${mods}  </dependencies>
</project>
EOF
}

write_tools_log4j() {
  local f="$CACHE/tools-log4j.properties"
  [ -f "$f" ] && return 0
  cat >"$f.tmp.$$" <<'EOF'
# Tools started by tools/kafka.sh: warnings and errors only, on stderr.
log4j.rootLogger=WARN, stderr
log4j.appender.stderr=org.apache.log4j.ConsoleAppender
log4j.appender.stderr.layout=org.apache.log4j.PatternLayout
log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.appender.stderr.Target=System.err
EOF
  mv -f "$f.tmp.$$" "$f"
}

# Makes sure that every jar is in the cache; downloads them with Maven the first time.
ensure_jars() {
  if [ -f "$CACHE/.complete" ]; then
    write_tools_log4j
    return 0
  fi
  command -v "$JAVA" >/dev/null || die "java not found (install a JDK 11 or newer)"
  command -v mvn >/dev/null || die "mvn not found (apt-get install maven)"
  mkdir -p "$CACHE"
  (
    flock -w 900 8 || die "timed out waiting for another download into $CACHE"
    [ -f "$CACHE/.complete" ] && exit 0
    log "fetching Apache Kafka ${KAFKA_VERSION} (Scala ${SCALA_VERSION}) and its dependencies with Maven into $CACHE ..."
    local t0=$SECONDS
    write_pom "$CACHE/pom.xml"
    rm -rf "$LIBS.tmp" "$LIBS"
    if ! mvn -B -q -f "$CACHE/pom.xml" dependency:copy-dependencies -DincludeScope=runtime \
          -DoutputDirectory="$LIBS.tmp" >"$CACHE/maven.log" 2>&1; then
      tail -n 30 "$CACHE/maven.log" >&2 || true
      die "Maven could not fetch Kafka ${KAFKA_VERSION}; full output in $CACHE/maven.log"
    fi
    local need
    for need in "kafka_${SCALA_VERSION}-${KAFKA_VERSION}.jar" "kafka-tools-${KAFKA_VERSION}.jar" \
                "kafka-clients-${KAFKA_VERSION}.jar" "kafka-metadata-${KAFKA_VERSION}.jar" \
                "kafka-raft-${KAFKA_VERSION}.jar" "kafka-storage-${KAFKA_VERSION}.jar" \
                "kafka-server-common-${KAFKA_VERSION}.jar" "kafka-group-coordinator-${KAFKA_VERSION}.jar"; do
      [ -f "$LIBS.tmp/$need" ] || die "Maven's copy lacks $need (see $CACHE/maven.log)"
    done
    compgen -G "$LIBS.tmp/slf4j-api-*.jar" >/dev/null || die "no slf4j-api jar among Kafka's dependencies"
    compgen -G "$LIBS.tmp/slf4j-reload4j-*.jar" >/dev/null || compgen -G "$LIBS.tmp/slf4j-log4j12-*.jar" >/dev/null \
      || die "no slf4j logging backend among Kafka's dependencies"
    mv "$LIBS.tmp" "$LIBS"
    ls "$LIBS" >"$CACHE/.complete"
    log "fetched $(wc -l <"$CACHE/.complete") jars ($(du -sh "$LIBS" | cut -f1)) in $((SECONDS - t0)) s"
  ) 8>"$CACHE/.lock"
  write_tools_log4j
}

# Runs a Kafka main class with the cached classpath, in the foreground.
run_class() {
  local quick=()
  if [ "${1:-}" = "--quick" ]; then quick=(-XX:TieredStopAtLevel=1); shift; fi
  [ $# -ge 1 ] || die "missing the class to run"
  ensure_jars
  "$JAVA" "${TOOL_OPTS[@]}" "${quick[@]}" -Djava.awt.headless=true \
    -Dlog4j.configuration="file:$CACHE/tools-log4j.properties" -cp "$LIBS/*" "$@"
}

# ---------------------------------------------------------------------------------------------
# Ports

port_free() {
  local p="$1"
  if command -v python3 >/dev/null 2>&1; then
    python3 -c '
import socket, sys
s = socket.socket()
# Like the JVM, which binds server sockets with SO_REUSEADDR: connections left in TIME_WAIT
# by a stopped broker do not make its port unusable.
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
finally:
    s.close()' "$p" 2>/dev/null
  else
    # Nothing accepts a connection there: good enough for ports below the ephemeral range.
    if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then return 1; fi
    return 0
  fi
}

# A free port in 20000-31999, below Linux's ephemeral range, and not one of the arguments.
pick_port() {
  local p q try taken
  for ((try = 0; try < 200; try++)); do
    p=$((20000 + RANDOM % 12000))
    taken=0
    for q in "$@"; do [ "$p" = "$q" ] && taken=1; done
    [ "$taken" = 0 ] && port_free "$p" && { echo "$p"; return 0; }
  done
  die "found no free TCP port on 127.0.0.1"
}

tcp_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# ---------------------------------------------------------------------------------------------
# State folder

prop() { sed -n "s/^$1=//p" "$STATE/server.properties" | tail -n 1; }

# The broker's pid when it is running from this state folder; nothing (and status 1) otherwise.
broker_pid() {
  local pid
  [ -f "$STATE/pid" ] || return 1
  pid="$(cat "$STATE/pid" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "kafka.Kafka $STATE/server.properties" || return 1
  echo "$pid"
}

ours_or_absent() {
  [ ! -e "$STATE" ] && return 0
  [ -f "$STATE/$MARKER" ] && return 0
  [ -d "$STATE" ] && [ -z "$(ls -A "$STATE")" ] && return 0
  return 1
}

wipe_state() {
  [ -e "$STATE" ] || return 0
  ours_or_absent || die "$STATE was not made by tools/kafka.sh; not deleting it"
  rm -rf -- "$STATE"
}

# A node of a cluster (`cluster start`) sets these before write_config; a lone broker keeps them.
NODE_ID=1 VOTERS="" COPIES=1 MIN_ISR=1

write_config() {
  local port="$1" cport="$2" sport="$3" users="$4"
  local voters="${VOTERS:-1@127.0.0.1:${cport}}"
  local listeners="PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${cport}"
  local protomap="PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
  local advertised="PLAINTEXT://127.0.0.1:${port}"
  if [ -n "$sport" ]; then
    listeners+=",SASL_PLAINTEXT://127.0.0.1:${sport}"
    protomap+=",SASL_PLAINTEXT:SASL_PLAINTEXT"
    advertised+=",SASL_PLAINTEXT://127.0.0.1:${sport}"
  fi
  cat >"$STATE/server.properties" <<EOF
# Written by Sazesh's tools/kafka.sh: a KRaft broker and controller in one JVM, for tests.
process.roles=broker,controller
node.id=${NODE_ID}
controller.quorum.voters=${voters}
listeners=${listeners}
advertised.listeners=${advertised}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=${protomap}
log.dirs=${STATE}/data
num.partitions=1
default.replication.factor=${COPIES}
offsets.topic.replication.factor=${COPIES}
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=${COPIES}
transaction.state.log.min.isr=${MIN_ISR}
transaction.state.log.num.partitions=4
min.insync.replicas=${MIN_ISR}
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
log.retention.hours=168
# The cleaner looks for compacted topics to clean every second (15 s by default), so a test sees
# an erased key compacted away soon after its segment rolls.
log.cleaner.backoff.ms=1000
EOF
  if [ -n "$sport" ]; then
    local u name pass
    cat >>"$STATE/server.properties" <<EOF
# --acls: StandardAuthorizer; clients authenticate with SASL/SCRAM-SHA-512 on the SASL_PLAINTEXT
# listener (the users' credentials are in the cluster's metadata, put there when it is formatted).
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:admin;User:ANONYMOUS
allow.everyone.if.no.acl.found=false
sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_plaintext.sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
EOF
    for u in $users; do
      name="${u%%:*}"; pass="${u#*:}"
      cat >"$STATE/client-${name}.properties" <<EOF
# Java client config for SASL user ${name} on $(cat "$STATE/sasl-bootstrap")
bootstrap.servers=$(cat "$STATE/sasl-bootstrap")
security.protocol=SASL_PLAINTEXT
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="${name}" password="${pass}";
EOF
    done
  fi
  cat >"$STATE/log4j.properties" <<'EOF'
# The broker's log: a file under the state folder, never the console.
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.RollingFileAppender
log4j.appender.file.File=${kafka.logs.dir}/server.log
log4j.appender.file.MaxFileSize=20MB
log4j.appender.file.MaxBackupIndex=3
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.kafka.network.RequestChannel$=WARN
log4j.logger.kafka.authorizer.logger=INFO
log4j.logger.org.apache.kafka.metadata.authorizer=INFO
EOF
}

# ---------------------------------------------------------------------------------------------
# The broker process

show_log_tail() {
  local f
  for f in "$STATE/logs/server.log" "$STATE/logs/stdout.log"; do
    if [ -s "$f" ]; then
      printf -- '--- last lines of %s ---\n' "$f" >&2
      tail -n 30 "$f" >&2
    fi
  done
}

# Starts the JVM on the existing server.properties and waits until the broker answers.
launch() {
  spawn
  wait_ready
}

# Starts the JVM on the existing server.properties, without waiting (a node of a cluster answers
# only once a majority of its controllers run).
spawn() {
  local port cport bs pid
  cport="$(prop listeners)"; cport="${cport##*CONTROLLER://127.0.0.1:}"; cport="${cport%%,*}"
  port="$(prop advertised.listeners)"; port="${port#PLAINTEXT://127.0.0.1:}"; port="${port%%,*}"
  bs="127.0.0.1:${port}"
  local p
  for p in $port $cport $(cat "$STATE/sasl-port" 2>/dev/null || true); do
    # After a restart the old sockets may linger for a moment.
    local waited=0
    until port_free "$p"; do
      ((waited++ < 20)) || die "port $p on 127.0.0.1 is taken by another process; cannot start the broker there"
      sleep 0.5
    done
  done
  mkdir -p "$STATE/logs"
  echo "$bs" >"$STATE/bootstrap"
  # setsid: the broker outlives this script and the caller's terminal; fds 8/9 (locks) are closed
  # so that the broker never holds them, and stdout/stderr go to a file so that $(...) returns.
  setsid "$JAVA" "-Xmx${HEAP}" -Xms128m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true \
    -Dkafka.logs.dir="$STATE/logs" -Dlog4j.configuration="file:$STATE/log4j.properties" \
    -cp "$LIBS/*" kafka.Kafka "$STATE/server.properties" \
    </dev/null >>"$STATE/logs/stdout.log" 2>&1 8>&- 9>&- &
  pid=$!
  echo "$pid" >"$STATE/pid"
  log "broker starting (pid $pid, $bs, controller 127.0.0.1:${cport}); log in $STATE/logs/server.log"
}

# Waits until the broker spawned from $STATE answers; prints its bootstrap address.
wait_ready() {
  local pid bs port deadline t0=$SECONDS
  pid="$(cat "$STATE/pid")"
  bs="$(cat "$STATE/bootstrap")"
  port="${bs##*:}"
  deadline=$((SECONDS + START_TIMEOUT))
  while :; do
    if ! kill -0 "$pid" 2>/dev/null; then
      show_log_tail
      die "the broker exited while starting"
    fi
    if tcp_open "$port" &&
       timeout 30 "$JAVA" "${TOOL_OPTS[@]}" -XX:TieredStopAtLevel=1 \
         -Dlog4j.configuration="file:$CACHE/tools-log4j.properties" -cp "$LIBS/*" \
         org.apache.kafka.tools.TopicCommand --bootstrap-server "$bs" --list >/dev/null 2>&1; then
      break
    fi
    if ((SECONDS >= deadline)); then
      show_log_tail
      stop_process quiet || true
      die "the broker did not answer on $bs within ${START_TIMEOUT} s (state left in $STATE; 'tools/kafka.sh stop' wipes it)"
    fi
    sleep 0.5
  done
  log "broker ready on $bs after $((SECONDS - t0)) s"
  echo "$bs"
}

# SIGTERM, wait, SIGKILL. Keeps the state folder.
stop_process() {
  local pid waited=0
  pid="$(broker_pid)" || { rm -f "$STATE/pid"; return 0; }
  [ "${1:-}" = quiet ] || log "stopping the broker (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null; do
    if ((waited >= STOP_TIMEOUT * 4)); then
      log "the broker did not stop within ${STOP_TIMEOUT} s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      waited=0
      while kill -0 "$pid" 2>/dev/null && ((waited++ < 40)); do sleep 0.25; done
      break
    fi
    sleep 0.25
    waited=$((waited + 1))
  done
  kill -0 "$pid" 2>/dev/null && die "could not stop pid $pid"
  rm -f "$STATE/pid"
}

# ---------------------------------------------------------------------------------------------
# Commands

with_lock() {
  mkdir -p "$(dirname "$LOCK")"
  exec 9>"$LOCK"
  flock -w 600 9 || die "timed out waiting for another tools/kafka.sh on $STATE"
}

# A folder that holds a cluster is the `cluster` commands' to start and stop.
not_a_cluster() {
  compgen -G "$STATE/node-[1-9]" >/dev/null && die "$STATE holds a cluster: use 'tools/kafka.sh cluster $1'"
  return 0
}

cmd_start() {
  local acls="${SAZESH_KAFKA_ACLS:-0}" fresh=0 a
  for a in "$@"; do
    case "$a" in
      --acls) acls=1 ;;
      --fresh) fresh=1 ;;
      *) die "start: unknown option $a" ;;
    esac
  done
  [ "$acls" = 0 ] || [ "$acls" = 1 ] || die "SAZESH_KAFKA_ACLS must be 0 or 1"
  not_a_cluster start
  with_lock
  if broker_pid >/dev/null; then
    if [ "$acls" = 1 ] && [ ! -f "$STATE/sasl-bootstrap" ]; then
      log "warning: the running broker was started without --acls; stop it first to get ACLs"
    fi
    log "broker already running"
    cat "$STATE/bootstrap"
    return 0
  fi
  ensure_jars
  if [ -e "$STATE" ]; then
    ours_or_absent || die "$STATE exists and was not made by tools/kafka.sh; set SAZESH_KAFKA_DIR elsewhere"
    # A broker that died without `stop` (kill -9, a reboot) left its data: start it again on it,
    # as `restart` does, so its topics and events survive.
    if [ "$fresh" = 0 ] && [ -f "$STATE/server.properties" ] && [ -f "$STATE/cluster-id" ] &&
       [ -f "$STATE/data/meta.properties" ] && { [ "$acls" = 0 ] || [ -f "$STATE/sasl-bootstrap" ]; }; then
      log "starting the broker again on the data it left in $STATE ('start --fresh' discards it)"
      launch
      return
    fi
    [ -z "$(ls -A "$STATE" 2>/dev/null)" ] || log "discarding the state of a broker that is no longer running in $STATE"
    wipe_state
  fi
  mkdir -p "$STATE/data" "$STATE/logs"
  touch "$STATE/$MARKER"
  local port cport sport="" users=""
  port="$(pick_port)"
  cport="$(pick_port "$port")"
  if [ "$acls" = 1 ]; then
    sport="$(pick_port "$port" "$cport")"
    users="${SAZESH_KAFKA_USERS:-$DEFAULT_USERS}"
    local u
    for u in $users; do
      [[ "$u" =~ ^[A-Za-z0-9._-]+:[A-Za-z0-9._-]+$ ]] || die "bad SAZESH_KAFKA_USERS entry '$u' (want name:password, each of letters, digits, '.', '_' and '-')"
    done
    echo "$sport" >"$STATE/sasl-port"
    echo "127.0.0.1:${sport}" >"$STATE/sasl-bootstrap"
  fi
  write_config "$port" "$cport" "$sport" "$users"
  local cluster_id
  cluster_id="$(run_class --quick kafka.tools.StorageTool random-uuid 2>>"$STATE/logs/tools.log" | tail -n 1)"
  [[ "$cluster_id" =~ ^[A-Za-z0-9_-]{22}$ ]] || die "the storage tool gave no cluster id (see $STATE/logs/tools.log)"
  echo "$cluster_id" >"$STATE/cluster-id"
  # --acls: each user's SCRAM credential goes into the metadata as the storage is formatted.
  local scram=() u
  for u in $users; do scram+=(--add-scram "SCRAM-SHA-512=[name=${u%%:*},password=${u#*:}]"); done
  if ! run_class --quick kafka.tools.StorageTool format -t "$cluster_id" -c "$STATE/server.properties" "${scram[@]}" \
       >>"$STATE/logs/tools.log" 2>&1; then
    tail -n 20 "$STATE/logs/tools.log" >&2
    die "formatting the KRaft storage failed"
  fi
  launch
}

cmd_stop() {
  [ $# -eq 0 ] || die "stop takes no arguments"
  not_a_cluster stop
  with_lock
  if broker_pid >/dev/null; then
    stop_process
  else
    log "no broker running from $STATE"
  fi
  if [ -e "$STATE" ]; then
    wipe_state
    log "wiped $STATE"
  fi
}

cmd_restart() {
  [ $# -eq 0 ] || die "restart takes no arguments"
  with_lock
  if [ ! -f "$STATE/server.properties" ] || [ ! -f "$STATE/$MARKER" ]; then
    log "no broker state in $STATE; starting a new broker"
    exec 9>&-
    cmd_start
    return
  fi
  ensure_jars
  stop_process
  launch
}

cmd_bootstrap() {
  broker_pid >/dev/null || die "no broker running from $STATE (run 'tools/kafka.sh start')"
  cat "$STATE/bootstrap"
}

cmd_sasl_bootstrap() {
  broker_pid >/dev/null || die "no broker running from $STATE (run 'tools/kafka.sh start --acls')"
  [ -f "$STATE/sasl-bootstrap" ] || die "the running broker was not started with --acls"
  cat "$STATE/sasl-bootstrap"
}

# ---------------------------------------------------------------------------------------------
# A cluster: `cluster start --nodes N` runs N nodes, each a broker and a controller in one JVM,
# from $STATE/node-1 … node-N (each a state folder like a lone broker's), with replication factor
# N and min.insync.replicas N-1 for every topic (3 copies, 2 in sync, for N = 3).

node_dir() { echo "$STATE/node-$1"; }
# Runs this script on one node's folder.
on_node() {
  local n="$1"; shift
  [[ "$n" =~ ^[1-9]$ ]] && [ -d "$(node_dir "$n")" ] || die "no node $n in the cluster at $STATE"
  SAZESH_KAFKA_DIR="$(node_dir "$n")" "$0" "$@"
}
cluster_nodes() { local d; for d in "$STATE"/node-[1-9]; do [ -d "$d" ] && echo "${d##*-}"; done; }
# kill -9 every node still running, all at once (their folders are about to be wiped).
kill_nodes() {
  local n pids=() pid
  for n in $(cluster_nodes); do pid="$(on_node "$n" _node-pid 2>/dev/null)" && pids+=("$pid"); done
  [ ${#pids[@]} -eq 0 ] && return 0
  kill -KILL "${pids[@]}" 2>/dev/null || true
  for pid in "${pids[@]}"; do
    local waited=0
    while kill -0 "$pid" 2>/dev/null && ((waited++ < 80)); do sleep 0.25; done
  done
}

cluster_start() {
  local nodes=3
  while [ $# -gt 0 ]; do
    case "$1" in
      --nodes) [ $# -ge 2 ] || die "--nodes needs a number"; nodes="$2"; shift 2 ;;
      *) die "cluster start: unknown option $1" ;;
    esac
  done
  [[ "$nodes" =~ ^[1-9]$ ]] || die "--nodes must be 1 to 9"
  with_lock
  ensure_jars
  if [ -e "$STATE" ]; then
    ours_or_absent || die "$STATE exists and was not made by tools/kafka.sh; set SAZESH_KAFKA_DIR elsewhere"
    stop_process quiet || true  # a lone broker run from this folder
    kill_nodes
    wipe_state
  fi
  mkdir -p "$STATE"
  touch "$STATE/$MARKER"
  local i p c taken=() ports=() cports=() voters="" cluster_id
  for ((i = 1; i <= nodes; i++)); do
    p="$(pick_port "${taken[@]}")"; taken+=("$p")
    c="$(pick_port "${taken[@]}")"; taken+=("$c")
    ports+=("$p"); cports+=("$c")
    voters+="${voters:+,}${i}@127.0.0.1:${c}"
  done
  cluster_id="$(run_class --quick kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1)"
  [[ "$cluster_id" =~ ^[A-Za-z0-9_-]{22}$ ]] || die "the storage tool gave no cluster id"
  for ((i = 1; i <= nodes; i++)); do
    mkdir -p "$(node_dir "$i")"
    on_node "$i" _node-setup "$i" "${ports[i - 1]}" "${cports[i - 1]}" "$voters" "$cluster_id" "$nodes"
  done
  for ((i = 1; i <= nodes; i++)); do on_node "$i" _node-spawn || { kill_nodes; die "node $i did not start"; }; done
  for ((i = 1; i <= nodes; i++)); do
    on_node "$i" _node-wait >/dev/null || { kill_nodes; die "node $i did not answer (its log: $(node_dir "$i")/logs)"; }
  done
  local list=""
  for p in "${ports[@]}"; do list+="${list:+,}127.0.0.1:${p}"; done
  echo "$list" >"$STATE/bootstrap"
  log "cluster of $nodes nodes ready on $list"
  echo "$list"
}

# One node's folder, config and formatted storage (run by cluster_start through on_node).
node_setup() {
  local id="$1" port="$2" cport="$3" voters="$4" cluster_id="$5" nodes="$6"
  mkdir -p "$STATE/data" "$STATE/logs"
  touch "$STATE/$MARKER"
  NODE_ID="$id" VOTERS="$voters" COPIES="$nodes" MIN_ISR=$((nodes > 1 ? nodes - 1 : 1))
  write_config "$port" "$cport" "" ""
  echo "$cluster_id" >"$STATE/cluster-id"
  run_class --quick kafka.tools.StorageTool format -t "$cluster_id" -c "$STATE/server.properties" \
    >>"$STATE/logs/tools.log" 2>&1 || { tail -n 20 "$STATE/logs/tools.log" >&2; die "formatting node $id's storage failed"; }
}

# kill -9: the node stops as in a crash, its data kept.
node_kill() {
  local pid waited=0
  pid="$(broker_pid)" || die "node in $STATE is not running"
  kill -KILL "$pid"
  while kill -0 "$pid" 2>/dev/null && ((waited++ < 80)); do sleep 0.25; done
  rm -f "$STATE/pid"
  log "killed pid $pid ($STATE)"
}

cmd_cluster() {
  [ $# -ge 1 ] || die "cluster: start [--nodes N], stop, bootstrap, kill N or start-node N"
  local sub="$1"; shift
  case "$sub" in
    start) cluster_start "$@" ;;
    stop)
      with_lock
      kill_nodes
      if [ -e "$STATE" ]; then wipe_state; log "wiped $STATE"; fi ;;
    bootstrap) [ -f "$STATE/bootstrap" ] || die "no cluster in $STATE"; cat "$STATE/bootstrap" ;;
    kill) [ $# -eq 1 ] || die "cluster kill takes a node id"; with_lock; on_node "$1" _node-kill ;;
    start-node)
      [ $# -eq 1 ] || die "cluster start-node takes a node id"
      with_lock
      on_node "$1" _node-spawn
      on_node "$1" _node-wait ;;
    pid) [ $# -eq 1 ] || die "cluster pid takes a node id"; on_node "$1" _node-pid ;;
    *) die "cluster: start [--nodes N], stop, bootstrap, kill N or start-node N" ;;
  esac
}

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
  exit "${1:-2}"
}

main() {
  [ $# -ge 1 ] || usage 2
  local cmd="$1"; shift
  case "$cmd" in
    start) cmd_start "$@" ;;
    stop) cmd_stop "$@" ;;
    restart) cmd_restart "$@" ;;
    bootstrap) cmd_bootstrap ;;
    sasl-bootstrap) cmd_sasl_bootstrap ;;
    cluster) cmd_cluster "$@" ;;
    _node-setup) node_setup "$@" ;;
    _node-spawn) ensure_jars; spawn ;;
    _node-wait) wait_ready ;;
    _node-kill) node_kill ;;
    _node-pid) broker_pid ;;
    fetch) ensure_jars; log "jars in $LIBS" ;;
    log) [ -f "$STATE/logs/server.log" ] || die "no broker log in $STATE"; tail -n "${1:-50}" "$STATE/logs/server.log" ;;
    topics) run_class --quick org.apache.kafka.tools.TopicCommand "$@" ;;
    acls) run_class --quick kafka.admin.AclCommand "$@" ;;
    configs) run_class --quick kafka.admin.ConfigCommand "$@" ;;
    consumer-groups) run_class --quick org.apache.kafka.tools.consumer.group.ConsumerGroupCommand "$@" ;;
    transactions) run_class --quick org.apache.kafka.tools.TransactionsCommand "$@" ;;
    perf) run_class org.apache.kafka.tools.ProducerPerformance "$@" ;;
    consumer-perf) run_class org.apache.kafka.tools.ConsumerPerformance "$@" ;;
    console-producer) run_class kafka.tools.ConsoleProducer "$@" ;;
    console-consumer) run_class org.apache.kafka.tools.consumer.ConsoleConsumer "$@" ;;
    run) run_class "$@" ;;
    -h | --help | help) usage 0 ;;
    *) log "unknown command: $cmd"; usage 2 ;;
  esac
}

main "$@"
