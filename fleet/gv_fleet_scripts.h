/* The Lua scripts gv_fleet runs in Redis, one per call, so that every
 * decision (is this lease alive, which node has the most room, is that
 * claim older) and the writes that follow from it happen atomically. Each
 * is the prelude followed by its body; ARGV[1] is always the key prefix.
 *
 * Keys (P the prefix):
 *   P epoch               the last epoch given (INCR, but never below
 *                         Redis's clock in microseconds, so that epochs
 *                         keep growing after Redis lost its data)
 *   P node:ID             the node's hash, expiring with its lease
 *   P nodes               the set of node ids, pruned of expired ones
 *   P node:ID:lobbies     the lobbies placed on ID (what counts against
 *                         capacity_lobbies)
 *   P lobby:NAME          a placement: node, epoch, created; valid while
 *                         P node:<node> exists with that epoch
 * Only this file and the C that passes ARGV know this layout. */
#ifndef GV_FLEET_SCRIPTS_H
#define GV_FLEET_SCRIPTS_H

/* Epochs and times are compared with tonumber (exact below 2^53) and
 * written with %d, never with Lua's own number formatting (%.14g), which
 * turns an epoch's 16 digits into 1.7e+15. A placement's
 * lobby set membership is kept exact by every script that moves one, so
 * SCARD counts the lobbies a node really holds. */
#define GV_FLEET_LUA_PRELUDE \
    "local p = ARGV[1]\n" \
    "local function int(x) return string.format('%d', x) end\n" \
    "local function now_us()\n" \
    "  local t = redis.call('TIME')\n" \
    "  return tonumber(t[1]) * 1000000 + tonumber(t[2])\n" \
    "end\n" \
    "local function now_ms() return math.floor(now_us() / 1000) end\n" \
    "local function node_key(id) return p .. 'node:' .. id end\n" \
    "local function set_key(id) return p .. 'node:' .. id .. ':lobbies' end\n" \
    "local function lobby_key(name) return p .. 'lobby:' .. name end\n" \
    "local function live(id, epoch)\n" \
    "  local e = redis.call('HGET', node_key(id), 'epoch')\n" \
    "  return e and tonumber(e) == tonumber(epoch)\n" \
    "end\n" \
    /* node (false when unplaced), created, and whether it is valid */ \
    "local function placement(name)\n" \
    "  local pl = redis.call('HMGET', lobby_key(name), 'node', 'epoch', 'created')\n" \
    "  if not pl[1] then return false, 0, false end\n" \
    "  return pl[1], tonumber(pl[3]) or 0, live(pl[1], pl[2])\n" \
    "end\n" \
    "local function place(name, from, id, epoch, created)\n" \
    "  if from then redis.call('SREM', set_key(from), name) end\n" \
    "  redis.call('HSET', lobby_key(name), 'node', id, 'epoch', epoch, 'created', created)\n" \
    "  redis.call('SADD', set_key(id), name)\n" \
    "end\n" \
    /* A node gone: its placements (those still naming it), set and id. */ \
    "local function forget(id)\n" \
    "  for _, name in ipairs(redis.call('SMEMBERS', set_key(id))) do\n" \
    "    if redis.call('HGET', lobby_key(name), 'node') == id then redis.call('DEL', lobby_key(name)) end\n" \
    "  end\n" \
    "  redis.call('DEL', set_key(id))\n" \
    "  redis.call('SREM', p .. 'nodes', id)\n" \
    "end\n" \
    "local function answer(status, id, created, placed)\n" \
    "  local h = redis.call('HMGET', node_key(id), 'address', 'fingerprint', 'protocol')\n" \
    "  return {status, id, h[1], h[2], tonumber(h[3]), created, placed}\n" \
    "end\n"

/* Register and refresh share their ARGV: 2 id, 3 epoch (refresh only),
 * 4 lease ms, 5..13 the node's fields in GV_FLEET_LUA_FIELDS' order. */
#define GV_FLEET_LUA_FIELDS \
    "local function fields()\n" \
    "  return 'address', ARGV[5], 'fingerprint', ARGV[6], 'protocol', ARGV[7],\n" \
    "    'capacity_players', ARGV[8], 'capacity_lobbies', ARGV[9], 'players', ARGV[10],\n" \
    "    'lobbies', ARGV[11], 'forwarded_per_s', ARGV[12], 'cpu', ARGV[13]\n" \
    "end\n"

/* Returns the new epoch. What the id held before is forgotten: the node
 * reclaims what it still hosts. */
static const char gv_fleet_lua_register[] = GV_FLEET_LUA_PRELUDE GV_FLEET_LUA_FIELDS
    "local id = ARGV[2]\n"
    "local now = now_us()\n"
    "local epoch = redis.call('INCR', p .. 'epoch')\n"
    "if epoch < now then\n"
    "  epoch = now\n"
    "  redis.call('SET', p .. 'epoch', int(epoch))\n"
    "end\n"
    "forget(id)\n"
    "redis.call('DEL', node_key(id))\n"
    "redis.call('HSET', node_key(id), 'epoch', int(epoch), 'registered_ms', int(math.floor(now / 1000)), fields())\n"
    "redis.call('PEXPIRE', node_key(id), ARGV[4])\n"
    "redis.call('SADD', p .. 'nodes', id)\n"
    "return epoch\n";

/* 1 refreshed, 0 the lease lapsed or holds another epoch. */
static const char gv_fleet_lua_refresh[] = GV_FLEET_LUA_PRELUDE GV_FLEET_LUA_FIELDS
    "if not live(ARGV[2], ARGV[3]) then return 0 end\n"
    "redis.call('HSET', node_key(ARGV[2]), fields())\n"
    "redis.call('PEXPIRE', node_key(ARGV[2]), ARGV[4])\n"
    "return 1\n";

/* ARGV 2 id, 3 epoch, then pairs of name and opened ms (0: now). -1 when
 * the lease is not alive under epoch; else per lobby 0 ours, 1 lost. An
 * equal time goes to the smaller id, so that two claims never take a
 * lobby back and forth. */
static const char gv_fleet_lua_reclaim[] = GV_FLEET_LUA_PRELUDE
    "local id, epoch = ARGV[2], ARGV[3]\n"
    "if not live(id, epoch) then return -1 end\n"
    "local now\n"
    "local lost = {}\n"
    "for i = 4, #ARGV, 2 do\n"
    "  local name, created = ARGV[i], tonumber(ARGV[i + 1])\n"
    "  if created == 0 then\n"
    "    now = now or now_ms()\n"
    "    created = now\n"
    "  end\n"
    "  local node, held, valid = placement(name)\n"
    "  if valid and node ~= id and (held < created or (held == created and node < id)) then\n"
    "    lost[#lost + 1] = 1\n"
    "  else\n"
    "    if not (valid and node == id) then place(name, node, id, epoch, int(created)) end\n"
    "    lost[#lost + 1] = 0\n"
    "  end\n"
    "end\n"
    "return lost\n";

/* ARGV 2 id, 3 epoch, 4 name. 1 released, 0 not id's under epoch. */
static const char gv_fleet_lua_release[] = GV_FLEET_LUA_PRELUDE
    "local pl = redis.call('HMGET', lobby_key(ARGV[4]), 'node', 'epoch')\n"
    "if pl[1] ~= ARGV[2] or tonumber(pl[2]) ~= tonumber(ARGV[3]) then return 0 end\n"
    "redis.call('DEL', lobby_key(ARGV[4]))\n"
    "redis.call('SREM', set_key(ARGV[2]), ARGV[4])\n"
    "return 1\n";

/* ARGV 2 id, 3 epoch, 4 an age in ms, then the names the node holds. -1
 * when the lease is not alive under epoch; else how many placements on
 * the node that it does not hold and that are older than the age were
 * removed: lobbies placed for players who never came. */
static const char gv_fleet_lua_prune[] = GV_FLEET_LUA_PRELUDE
    "local id, epoch = ARGV[2], ARGV[3]\n"
    "if not live(id, epoch) then return -1 end\n"
    "local held = {}\n"
    "for i = 5, #ARGV do held[ARGV[i]] = true end\n"
    "local before = now_ms() - tonumber(ARGV[4])\n"
    "local removed = 0\n"
    "for _, name in ipairs(redis.call('SMEMBERS', set_key(id))) do\n"
    "  local node, created = placement(name)\n"
    "  if node == id and not held[name] and created < before then\n"
    "    redis.call('DEL', lobby_key(name))\n"
    "    redis.call('SREM', set_key(id), name)\n"
    "    removed = removed + 1\n"
    "  elseif node ~= id then\n"
    "    redis.call('SREM', set_key(id), name)\n"
    "  end\n"
    "end\n"
    "return removed\n";

/* ARGV 2 id, 3 epoch. 1 gone (or gone already), 0 another epoch holds it. */
static const char gv_fleet_lua_leave[] = GV_FLEET_LUA_PRELUDE
    "local e = redis.call('HGET', node_key(ARGV[2]), 'epoch')\n"
    "if e and tonumber(e) ~= tonumber(ARGV[3]) then return 0 end\n"
    "redis.call('DEL', node_key(ARGV[2]))\n"
    "forget(ARGV[2])\n"
    "return 1\n";

/* ARGV 2 name, 3 protocol (0 any). {0, node, address, fingerprint,
 * protocol, created, placed now}; {3, ...} the same for a placement on a
 * node of another protocol; {1} every compatible node full; {2} none
 * live. Expired nodes met on the way are forgotten. */
static const char gv_fleet_lua_allocate[] = GV_FLEET_LUA_PRELUDE
    "local name, proto = ARGV[2], tonumber(ARGV[3])\n"
    "local node, created, valid = placement(name)\n"
    "if valid then\n"
    "  local np = tonumber(redis.call('HGET', node_key(node), 'protocol'))\n"
    "  return answer((proto ~= 0 and np ~= proto) and 3 or 0, node, created, 0)\n"
    "end\n"
    "local best, best_room, best_players, compatible = false, 0, 0, 0\n"
    "for _, id in ipairs(redis.call('SMEMBERS', p .. 'nodes')) do\n"
    "  local h = redis.call('HMGET', node_key(id), 'protocol', 'capacity_lobbies', 'capacity_players', 'players')\n"
    "  if not h[1] then\n"
    "    forget(id)\n"
    "  elseif proto == 0 or tonumber(h[1]) == proto then\n"
    "    compatible = compatible + 1\n"
    "    local room = tonumber(h[2]) - redis.call('SCARD', set_key(id))\n"
    "    local players = tonumber(h[4])\n"
    "    if room > 0 and players < tonumber(h[3]) and (not best or room > best_room or\n"
    "        (room == best_room and (players < best_players or (players == best_players and id < best)))) then\n"
    "      best, best_room, best_players = id, room, players\n"
    "    end\n"
    "  end\n"
    "end\n"
    "if compatible == 0 then return {2} end\n"
    "if not best then return {1} end\n"
    "local now = now_ms()\n"
    "place(name, node, best, redis.call('HGET', node_key(best), 'epoch'), int(now))\n"
    "return answer(0, best, now, 1)\n";

/* ARGV 2 name. As allocate's answer with placed 0, or {2} when the lobby
 * has no valid placement. Writes nothing. */
static const char gv_fleet_lua_locate[] = GV_FLEET_LUA_PRELUDE
    "local node, created, valid = placement(ARGV[2])\n"
    "if not valid then return {2} end\n"
    "return answer(0, node, created, 0)\n";

/* The live nodes by id, each {id, address, fingerprint, protocol,
 * capacity_players, capacity_lobbies, players, lobbies, forwarded_per_s,
 * cpu} as the strings stored. Expired nodes are forgotten. */
static const char gv_fleet_lua_list[] = GV_FLEET_LUA_PRELUDE
    "local out = {}\n"
    "local ids = redis.call('SMEMBERS', p .. 'nodes')\n"
    "table.sort(ids)\n"
    "for _, id in ipairs(ids) do\n"
    "  local h = redis.call('HMGET', node_key(id), 'address', 'fingerprint', 'protocol', 'capacity_players',\n"
    "    'capacity_lobbies', 'players', 'lobbies', 'forwarded_per_s', 'cpu')\n"
    "  if not h[1] then\n"
    "    forget(id)\n"
    "  else\n"
    "    table.insert(h, 1, id)\n"
    "    out[#out + 1] = h\n"
    "  end\n"
    "end\n"
    "return out\n";

#endif
