# A private redis-server for the fleet's tests, on a free loopback port,
# without persistence (a restart loses everything, as the fleet must
# survive): redis_start [PORT], redis_stop; REDIS_PORT and REDIS_URL.
REDIS_PORT=
REDIS_URL=

# A TCP port nobody listens on now.
free_tcp_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

redis_start() {
  REDIS_PORT=${1:-$(free_tcp_port)}
  REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
  spawn redis redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no --daemonize no \
    --dir "$TMP"
  local deadline=$((SECONDS + 10))
  until redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; do
    [ $SECONDS -lt $deadline ] || fail "redis-server did not answer on port $REDIS_PORT"
    sleep 0.05
  done
}

redis_stop() {
  local pid
  pid=$(pid_of redis)
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
