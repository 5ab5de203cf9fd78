#!/usr/bin/env bash
# The Kafka Streams peer of Sazesh's projector (see README.md).
#
# Usage: benchmarks/streams-peer/run.sh BOOTSTRAP PREFIX [options]   (--help for the options)
#
# Builds target/streams-peer.jar with Maven when it is missing or older than the sources, the
# pom or the schemas, then runs it. Standard output gets exactly one line, the JSON result;
# everything else (Maven, Kafka's warnings, progress) goes to standard error.
#
# Environment: STREAMS_PEER_JAVA_OPTS (default "-Xmx2g"), JAVA (default java), MVN (default mvn).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
jar="$here/target/streams-peer.jar"

stale() {
  [[ ! -f "$jar" ]] && return 0
  [[ -n "$(find "$here/pom.xml" "$here/src" "$here/../../schemas/envelope.fbs" \
           "$here/../../schemas/events.fbs" -newer "$jar" -print -quit)" ]]
}

if stale; then
  echo "streams-peer: building $jar" >&2
  mkdir -p "$here/target"
  if ! (cd "$here" && "${MVN:-mvn}" -q -B package) >"$here/target/build.log" 2>&1; then
    cat "$here/target/build.log" >&2
    echo "streams-peer: the Maven build failed" >&2
    exit 1
  fi
fi

read -r -a java_opts <<<"${STREAMS_PEER_JAVA_OPTS:--Xmx2g}"
exec "${JAVA:-java}" "${java_opts[@]}" -jar "$jar" "$@"
