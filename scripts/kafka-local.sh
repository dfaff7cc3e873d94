#!/usr/bin/env bash
# A real single-node Apache Kafka broker (KRaft, combined broker+controller) without Docker.
# The broker jars come from Maven Central through mvn and are cached under $KAFKA_HOME/libs.
#
#   bash scripts/kafka-local.sh start    # resolve jars (first time), format, start, wait until a client can describe the cluster
#   bash scripts/kafka-local.sh status   # exit 0 when the broker is up and answers
#   bash scripts/kafka-local.sh env      # prints KAFKA_BROKERS=127.0.0.1:PORT
#   bash scripts/kafka-local.sh stop     # SIGTERM, wait (SIGKILL after KAFKA_STOP_TIMEOUT seconds)
#
# Environment:
#   KAFKA_HOME            state dir (default: <repo>/.kafka): libs/, data/, logs/, kafka.pid, server.properties
#   KAFKA_PORT            client port on 127.0.0.1 (default 19092; when unset and busy, the next free pair is used)
#   KAFKA_CONTROLLER_PORT controller port (default KAFKA_PORT+1)
#   KAFKA_VERSION         org.apache.kafka:kafka_2.13 version (default 4.1.2)
#   KAFKA_LOG_LEVEL       root log level of the broker's log file (default WARN)
#   KAFKA_START_TIMEOUT   seconds to wait for the broker (default 120)
#   KAFKA_STOP_TIMEOUT    seconds to wait after SIGTERM before SIGKILL (default 60)
#   KAFKA_MVN_ARGS        extra mvn arguments, e.g. -Dmaven.repo.local=/tmp/m2
#   JAVA_HOME             Java 17+ (otherwise java from PATH)
#   KAFKA_SECURITY        plaintext (default) or sasl_ssl: the client port is then a SASL_SSL listener (TLS with a
#                         CA and broker certificate generated under $KAFKA_HOME/tls by openssl; SASL PLAIN,
#                         SCRAM-SHA-256 and SCRAM-SHA-512, the SCRAM users created when the storage is formatted)
#   KAFKA_SASL_USERNAME   sasl_ssl: the client user (default llmo)
#   KAFKA_SASL_PASSWORD   sasl_ssl: its password (default llmo-secret)
#
# start prints KAFKA_BROKERS=127.0.0.1:PORT as its last line on stdout; progress goes to stderr. With
# KAFKA_SECURITY=sasl_ssl it first prints what a client needs, as the variables `llmo worker|submit` read:
#   KAFKA_SSL=true KAFKA_SSL_CA_FILE=<ca.pem> KAFKA_SASL_MECHANISM=scram-sha-512 KAFKA_SASL_USERNAME=… KAFKA_SASL_PASSWORD=…
#   (the user also works with scram-sha-256 and plain). The broker's own user is `admin` (inter-broker, PLAIN).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
KAFKA_HOME="${KAFKA_HOME:-$REPO/.kafka}"
KAFKA_VERSION="${KAFKA_VERSION:-4.1.2}"
LOG4J_VERSION="2.24.3" # log4j2 of the 4.1 release tarball; log4j-slf4j-impl binds slf4j 1.7.x, which Kafka 4.x uses
DEP_PLUGIN="org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
HOST=127.0.0.1
DEFAULT_PORT=19092
START_TIMEOUT="${KAFKA_START_TIMEOUT:-120}"
STOP_TIMEOUT="${KAFKA_STOP_TIMEOUT:-60}"

LIBS="$KAFKA_HOME/libs"
DATA="$KAFKA_HOME/data"
LOGS="$KAFKA_HOME/logs"
PID_FILE="$KAFKA_HOME/kafka.pid"
BROKERS_FILE="$KAFKA_HOME/brokers"
PROPS="$KAFKA_HOME/server.properties"
LOG4J_CONF="$KAFKA_HOME/log4j2.properties"
LIBS_STAMP="kafka_2.13-$KAFKA_VERSION log4j-$LOG4J_VERSION"
SECURITY="${KAFKA_SECURITY:-plaintext}"
SASL_USER="${KAFKA_SASL_USERNAME:-llmo}"
SASL_PASSWORD="${KAFKA_SASL_PASSWORD:-llmo-secret}"
ADMIN_PASSWORD="admin-secret" # the broker's own inter-broker user; loopback-only scratch broker
TLS="$KAFKA_HOME/tls"
SECURITY_FILE="$KAFKA_HOME/security" # the mode of the running broker: status and env use it
CLIENT_PROPS="$KAFKA_HOME/client.properties"
case "$SECURITY" in plaintext | sasl_ssl) ;; *) printf 'kafka-local: error: KAFKA_SECURITY must be plaintext or sasl_ssl, not %s\n' "$SECURITY" >&2; exit 2 ;; esac

log() { printf 'kafka-local: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

java_bin() {
  if [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then echo "$JAVA_HOME/bin/java"; else command -v java || true; fi
}
JAVA="$(java_bin)"

check_java() {
  [[ -n "$JAVA" ]] || die "java not found (Kafka 4.x needs Java 17+)"
  local v
  v="$("$JAVA" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1)"
  [[ -n "$v" && "$v" -ge 17 ]] || die "Kafka 4.x needs Java 17+, found: $("$JAVA" -version 2>&1 | head -n1)"
}

# --- jars -------------------------------------------------------------------------------------------
resolve_libs() {
  if [[ -f "$LIBS/.complete" && "$(cat "$LIBS/.complete")" == "$LIBS_STAMP" ]]; then return 0; fi
  command -v mvn >/dev/null || die "mvn not found (needed once to fetch the Kafka jars from Maven Central)"
  local work="$KAFKA_HOME/resolve"
  rm -rf "$work" "$LIBS"
  mkdir -p "$work"
  cat >"$work/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.kafka</groupId>
  <artifactId>kafka-local</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$KAFKA_VERSION</version></dependency>
    <!-- the release tarball adds these to libs/; the POM leaves them out (without them the broker logs nothing) -->
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId><version>$LOG4J_VERSION</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId><version>$LOG4J_VERSION</version></dependency>
  </dependencies>
</project>
EOF
  log "resolving Kafka $KAFKA_VERSION jars from Maven Central (first run only)..."
  local t0=$SECONDS
  # shellcheck disable=SC2086
  if ! mvn -B -q -f "$work/pom.xml" ${KAFKA_MVN_ARGS:-} "$DEP_PLUGIN:copy-dependencies" \
      -DincludeScope=runtime -DoutputDirectory="$work/libs" >"$work/mvn.log" 2>&1; then
    cat "$work/mvn.log" >&2
    die "mvn could not resolve the Kafka jars (log: $work/mvn.log)"
  fi
  ls "$work/libs"/kafka_2.13-*.jar >/dev/null 2>&1 || die "resolution produced no kafka_2.13 jar (log: $work/mvn.log)"
  echo "$LIBS_STAMP" >"$work/libs/.complete"
  mv "$work/libs" "$LIBS"
  rm -rf "$work"
  log "resolved $(find "$LIBS" -name '*.jar' | wc -l) jars in $((SECONDS - t0))s -> $LIBS"
}

# --- process state ----------------------------------------------------------------------------------
# The pid in kafka.pid counts only while it is still our kafka.Kafka with our server.properties.
running_pid() {
  [[ -f "$PID_FILE" ]] || return 1
  local pid
  pid="$(cat "$PID_FILE" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  if [[ -r "/proc/$pid/cmdline" ]]; then
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "kafka.Kafka $PROPS" || return 1
  fi
  echo "$pid"
}

current_brokers() {
  if [[ -f "$BROKERS_FILE" ]] && running_pid >/dev/null; then cat "$BROKERS_FILE"; return; fi
  echo "$HOST:${KAFKA_PORT:-$DEFAULT_PORT}"
}

# The security mode of the running broker (of this start while starting).
running_security() {
  if [[ -f "$SECURITY_FILE" ]]; then cat "$SECURITY_FILE"; else echo plaintext; fi
}

port_busy() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

# Readiness: a client must be able to describe the cluster. kafkajs from the repo's node_modules when it
# is installed; otherwise a tiny Java Admin client compiled against the broker's own kafka-clients jar.
# A secured broker (KAFKA_SECURITY=sasl_ssl) is probed with the client settings of $KAFKA_HOME/client.env.
probe() {
  local brokers="$1" secured=""
  [[ "$(running_security)" == sasl_ssl ]] && secured=1
  if command -v node >/dev/null && [[ -d "$REPO/node_modules/kafkajs" ]]; then
    (
    if [[ -n "$secured" ]]; then set -a; . "$KAFKA_HOME/client.env"; set +a; fi
    KAFKA_PROBE_SECURED="$secured" KAFKA_PROBE_BROKERS="$brokers" KAFKA_PROBE_REPO="$REPO" node -e '
      const { Kafka, logLevel } = require(require.resolve("kafkajs", { paths: [process.env.KAFKA_PROBE_REPO] }));
      const env = process.env;
      const secured = env.KAFKA_PROBE_SECURED ? {
        ssl: { ca: [require("fs").readFileSync(env.KAFKA_SSL_CA_FILE, "utf8")] },
        sasl: { mechanism: env.KAFKA_SASL_MECHANISM, username: env.KAFKA_SASL_USERNAME, password: env.KAFKA_SASL_PASSWORD },
      } : {};
      const admin = new Kafka({ clientId: "kafka-local-probe", brokers: [env.KAFKA_PROBE_BROKERS], ...secured,
        logLevel: logLevel.NOTHING, connectionTimeout: 1000, requestTimeout: 3000, retry: { retries: 0 } }).admin();
      const t = setTimeout(() => process.exit(1), 5000);
      admin.connect().then(() => admin.describeCluster()).then((c) => {
        if (!c.brokers.length || c.controller == null) process.exit(1);
        console.log(`cluster ${c.clusterId}: ${c.brokers.length} broker(s), controller ${c.controller}`);
        clearTimeout(t); return admin.disconnect();
      }).catch(() => process.exit(1));' 2>/dev/null
    )
    return
  fi
  local cls="$KAFKA_HOME/probe"
  if [[ ! -f "$cls/KafkaLocalProbe.class" ]]; then
    command -v javac >/dev/null || [[ -x "${JAVA%/*}/javac" ]] || return 1
    local javac; javac="$(command -v javac || echo "${JAVA%/*}/javac")"
    mkdir -p "$cls"
    cat >"$cls/KafkaLocalProbe.java" <<'EOF'
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.DescribeClusterResult;
public class KafkaLocalProbe {
  public static void main(String[] args) throws Exception {
    Properties p = new Properties();
    if (args.length > 1) try (java.io.FileReader r = new java.io.FileReader(args[1])) { p.load(r); }
    p.put("bootstrap.servers", args[0]);
    p.put("request.timeout.ms", "3000");
    p.put("default.api.timeout.ms", "5000");
    try (Admin admin = Admin.create(p)) {
      DescribeClusterResult r = admin.describeCluster();
      int n = r.nodes().get(5, TimeUnit.SECONDS).size();
      String id = r.clusterId().get(5, TimeUnit.SECONDS);
      System.out.println("cluster " + id + ": " + n + " broker(s), controller " + r.controller().get(5, TimeUnit.SECONDS).id());
    }
  }
}
EOF
    "$javac" -nowarn -cp "$LIBS/*" -d "$cls" "$cls/KafkaLocalProbe.java" >/dev/null 2>&1 || return 1
  fi
  "$JAVA" -Xmx64m -Dlog4j2.configurationFile="$LOG4J_CONF" -Dkafka.logs.dir="$LOGS" \
    -cp "$cls:$LIBS/*" KafkaLocalProbe "$brokers" ${secured:+"$CLIENT_PROPS"} 2>/dev/null
}

# --- config -----------------------------------------------------------------------------------------
write_log4j() {
  cat >"$LOG4J_CONF" <<EOF
# Quiet: everything goes to \${kafka.logs.dir}/server.log, WARN and above (KAFKA_LOG_LEVEL to change).
status = error
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = \${sys:kafka.logs.dir}/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = ${KAFKA_LOG_LEVEL:-WARN}
rootLogger.appenderRef.file.ref = FILE
# keep the start/stop lines ("Kafka Server started") even when quiet
logger.raft.name = kafka.server.KafkaRaftServer
logger.raft.level = INFO
EOF
}

write_props() {
  local port="$1" cport="$2" client="PLAINTEXT" map="CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"
  if [[ "$SECURITY" == sasl_ssl ]]; then client="SASL_SSL"; map="CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL"; fi
  cat >"$PROPS" <<EOF
# generated by scripts/kafka-local.sh: single-node KRaft, combined broker+controller, loopback only
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=$HOST:$cport
listeners=$client://$HOST:$port,CONTROLLER://$HOST:$cport
advertised.listeners=$client://$HOST:$port,CONTROLLER://$HOST:$cport
controller.listener.names=CONTROLLER
inter.broker.listener.name=$client
listener.security.protocol.map=$map
log.dirs=$DATA
num.partitions=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
EOF
  [[ "$SECURITY" == sasl_ssl ]] || return 0
  cat >>"$PROPS" <<EOF
# KAFKA_SECURITY=sasl_ssl: TLS with PEM files from $TLS; SASL PLAIN (users listed here) and SCRAM (users in the metadata log)
sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=PLAIN
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="$ADMIN_PASSWORD" user_admin="$ADMIN_PASSWORD" user_$SASL_USER="$SASL_PASSWORD";
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
ssl.keystore.type=PEM
ssl.keystore.location=$TLS/broker.pem
ssl.truststore.type=PEM
ssl.truststore.location=$TLS/ca.pem
ssl.endpoint.identification.algorithm=https
EOF
}

# A CA and a broker certificate for 127.0.0.1/localhost (kept across restarts, so clients keep trusting the CA).
make_tls() {
  [[ -f "$TLS/ca.pem" && -f "$TLS/broker.pem" ]] && return 0
  command -v openssl >/dev/null || die "openssl not found (KAFKA_SECURITY=sasl_ssl generates a CA and a broker certificate with it)"
  local work="$TLS.tmp"
  rm -rf "$work"
  mkdir -p "$work"
  (
    cd "$work"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=kafka-local CA" -keyout ca.key -out ca.pem \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
    openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout broker.rsa.key -out broker.csr
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\n' >broker.ext
    openssl x509 -req -in broker.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 3650 -extfile broker.ext -out broker.crt
    openssl pkcs8 -topk8 -nocrypt -in broker.rsa.key -out broker.key # the PEM keystore wants PKCS#8
    cat broker.key broker.crt >broker.pem
    rm -f broker.rsa.key broker.csr broker.ext ca.srl
  ) >"$LOGS/tls.log" 2>&1 || { cat "$LOGS/tls.log" >&2; die "generating the TLS files failed (log: $LOGS/tls.log)"; }
  chmod 600 "$work"/*.key "$work/broker.pem"
  mv "$work" "$TLS"
  log "generated a CA ($TLS/ca.pem) and a broker certificate for 127.0.0.1/localhost"
}

# What a client needs for the secured broker, as the variables the CLI reads (the probe sources it too).
write_client_env() {
  cat >"$KAFKA_HOME/client.env" <<EOF
KAFKA_SSL=true
KAFKA_SSL_CA_FILE=$TLS/ca.pem
KAFKA_SASL_MECHANISM=scram-sha-512
KAFKA_SASL_USERNAME=$SASL_USER
KAFKA_SASL_PASSWORD=$SASL_PASSWORD
EOF
  cat >"$CLIENT_PROPS" <<EOF
security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="$SASL_USER" password="$SASL_PASSWORD";
ssl.truststore.type=PEM
ssl.truststore.location=$TLS/ca.pem
EOF
  chmod 600 "$KAFKA_HOME/client.env" "$CLIENT_PROPS"
}

choose_ports() {
  local port cport
  if [[ -n "${KAFKA_PORT:-}" ]]; then
    port="$KAFKA_PORT"; cport="${KAFKA_CONTROLLER_PORT:-$((port + 1))}"
    port_busy "$port" && die "port $HOST:$port (KAFKA_PORT) is in use"
    port_busy "$cport" && die "controller port $HOST:$cport is in use"
  else
    port=$DEFAULT_PORT
    while :; do
      cport=$((port + 1))
      if ! port_busy "$port" && ! port_busy "$cport"; then break; fi
      port=$((port + 2))
      ((port < DEFAULT_PORT + 100)) || die "no free port pair in $DEFAULT_PORT-$((DEFAULT_PORT + 99)); set KAFKA_PORT"
    done
  fi
  echo "$port $cport"
}

lock() {
  mkdir -p "$KAFKA_HOME"
  if command -v flock >/dev/null; then
    exec 9>"$KAFKA_HOME/.lock"
    flock -w 600 9 || die "timed out waiting for the lock on $KAFKA_HOME"
  fi
}

# --- commands ---------------------------------------------------------------------------------------
cmd_start() {
  lock
  local pid
  if pid="$(running_pid)"; then
    log "already running (pid $pid)"
    [[ "$(running_security)" != sasl_ssl ]] || cat "$KAFKA_HOME/client.env"
    echo "KAFKA_BROKERS=$(cat "$BROKERS_FILE")"
    return 0
  fi
  rm -f "$PID_FILE" "$BROKERS_FILE" "$SECURITY_FILE"
  if [[ "$SECURITY" == sasl_ssl ]]; then
    # they go into server.properties, the JAAS config and --add-scram unquoted
    [[ "$SASL_USER" =~ ^[A-Za-z0-9._-]+$ ]] || die "KAFKA_SASL_USERNAME: letters, digits, '.', '_' and '-' only"
    [[ "$SASL_PASSWORD" =~ ^[A-Za-z0-9._~+@%:/-]+$ ]] || die "KAFKA_SASL_PASSWORD: letters, digits and ._~+@%:/- only"
  fi
  check_java
  local t0=$SECONDS
  resolve_libs
  mkdir -p "$LOGS"
  write_log4j

  local ports port cport
  ports="$(choose_ports)"
  read -r port cport <<<"$ports"
  write_props "$port" "$cport"
  local scram=()
  if [[ "$SECURITY" == sasl_ssl ]]; then
    make_tls
    write_client_env
    local m u
    for m in SCRAM-SHA-256 SCRAM-SHA-512; do
      for u in "$SASL_USER=$SASL_PASSWORD" "admin=$ADMIN_PASSWORD"; do scram+=(--add-scram "$m=[name=${u%%=*},password=${u#*=}]"); done
    done
  fi

  # The --standalone format records the controller's endpoint in the metadata log. A restart on other
  # ports came up anyway when tried (4.1.2), but the data is scratch state for tests: reformat rather
  # than run on a voter record that names old ports.
  # SCRAM users are written at format time only: a change of mode or users reformats too.
  local marker="$KAFKA_HOME/data.ports" stamp="$port $cport"
  [[ "$SECURITY" == plaintext ]] || stamp="$port $cport $SECURITY $SASL_USER $(printf %s "$SASL_PASSWORD" | cksum | cut -d' ' -f1)"
  if [[ -d "$DATA" && "$(cat "$marker" 2>/dev/null || true)" != "$stamp" ]]; then
    rm -rf "$DATA"
  fi
  if [[ ! -f "$KAFKA_HOME/cluster.id" ]]; then
    "$JAVA" -cp "$LIBS/*" -Dlog4j2.configurationFile="$LOG4J_CONF" -Dkafka.logs.dir="$LOGS" \
      kafka.tools.StorageTool random-uuid >"$KAFKA_HOME/cluster.id.tmp" 2>>"$LOGS/storage.log"
    mv "$KAFKA_HOME/cluster.id.tmp" "$KAFKA_HOME/cluster.id"
  fi
  if ! "$JAVA" -cp "$LIBS/*" -Dlog4j2.configurationFile="$LOG4J_CONF" -Dkafka.logs.dir="$LOGS" \
      kafka.tools.StorageTool format --standalone -g -t "$(cat "$KAFKA_HOME/cluster.id")" -c "$PROPS" ${scram[@]+"${scram[@]}"} \
      >>"$LOGS/storage.log" 2>&1; then
    tail -n 20 "$LOGS/storage.log" >&2
    die "formatting $DATA failed (log: $LOGS/storage.log)"
  fi
  echo "$stamp" >"$marker"

  log "starting Kafka $KAFKA_VERSION on $HOST:$port ($SECURITY; controller $HOST:$cport)..."
  echo "--- $(date -u +%FT%TZ) start" >>"$LOGS/kafka.out"
  nohup "$JAVA" -Xms256m -Xmx512m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
    -Dkafka.logs.dir="$LOGS" -Dlog4j2.configurationFile="$LOG4J_CONF" \
    -cp "$LIBS/*" kafka.Kafka "$PROPS" </dev/null >>"$LOGS/kafka.out" 2>&1 9>&- &
  pid=$!
  echo "$pid" >"$PID_FILE"
  echo "$HOST:$port" >"$BROKERS_FILE"
  echo "$SECURITY" >"$SECURITY_FILE"

  local deadline=$((SECONDS + START_TIMEOUT)) info
  while :; do
    if ! kill -0 "$pid" 2>/dev/null; then
      rm -f "$PID_FILE" "$BROKERS_FILE" "$SECURITY_FILE"
      tail -n 30 "$LOGS/kafka.out" "$LOGS/server.log" >&2 2>/dev/null || true
      die "the broker exited during start (logs: $LOGS)"
    fi
    if info="$(probe "$HOST:$port")"; then break; fi
    if ((SECONDS >= deadline)); then
      tail -n 30 "$LOGS/kafka.out" "$LOGS/server.log" >&2 2>/dev/null || true
      cmd_stop_locked || true
      die "the broker did not answer within ${START_TIMEOUT}s (logs: $LOGS)"
    fi
    sleep 0.5
  done
  log "up in $((SECONDS - t0))s (pid $pid, $info)"
  if [[ "$SECURITY" == sasl_ssl ]]; then
    log "SASL_SSL: CA $TLS/ca.pem; user $SASL_USER (SCRAM-SHA-256, SCRAM-SHA-512, PLAIN)"
    cat "$KAFKA_HOME/client.env"
  fi
  echo "KAFKA_BROKERS=$HOST:$port"
}

cmd_stop_locked() {
  local pid
  if ! pid="$(running_pid)"; then
    rm -f "$PID_FILE" "$BROKERS_FILE" "$SECURITY_FILE"
    log "not running"
    return 0
  fi
  log "stopping pid $pid..."
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + STOP_TIMEOUT))
  while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS >= deadline)); then
      log "still running after ${STOP_TIMEOUT}s: SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.5
      break
    fi
    sleep 0.2
  done
  rm -f "$PID_FILE" "$BROKERS_FILE" "$SECURITY_FILE"
  log "stopped"
}

cmd_stop() { lock; cmd_stop_locked; }

cmd_status() {
  local pid brokers info
  if ! pid="$(running_pid)"; then
    echo "kafka-local: not running"
    return 1
  fi
  brokers="$(cat "$BROKERS_FILE")"
  if info="$(probe "$brokers")"; then
    echo "kafka-local: running (pid $pid) KAFKA_BROKERS=$brokers $info"
    return 0
  fi
  echo "kafka-local: process $pid is alive but $brokers does not answer"
  return 1
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  env)
    if running_pid >/dev/null && [[ "$(running_security)" == sasl_ssl ]]; then cat "$KAFKA_HOME/client.env"; fi
    echo "KAFKA_BROKERS=$(current_brokers)"
    ;;
  *)
    echo "usage: $0 start|stop|status|env" >&2
    exit 2
    ;;
esac
