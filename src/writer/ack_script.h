/* The acknowledgement script: XACK a batch of entry ids, then trim from the stream every
 * entry that no consumer group can need again.
 *
 * Why not XDEL: XDEL finds each entry by walking its stream node from the node's first entry,
 * so with 64 KB nodes (~100 entries) it cost Redis ~2.3 us per entry, more than XREADGROUP
 * and XACK together: the largest single Redis cost of a drain. Instead, after the XACK, the
 * script computes the stream's floor: for every group, its oldest pending entry, or, when
 * nothing is pending, the entry after its last delivered one; the floor is the lowest of
 * these. Every entry below the floor was delivered to every group and acknowledged by it, so
 * `XTRIM MINID floor` drops exactly those, mostly as whole nodes (~14 us per call).
 *
 * An acknowledged entry above the floor (an older entry of the same stream is still pending:
 * its window is open, or a slower writer of the group holds it) stays until the floor passes
 * it, which the next acknowledgement on that stream does. So the stream keeps at most the span
 * from its oldest pending entry, and is empty once everything is acknowledged. Run as one
 * script, the acknowledgement and the trim are atomic, also in the AOF (effects replication).
 *
 * Ids beyond 2^53 (never made by XADD *) are not trimmed past: Lua numbers are doubles.
 * KEYS[1] the stream; ARGV[1] the group; ARGV[2..] entry ids (at least one).
 * Returns {acked, trimmed}. */
#ifndef SS_WRITER_ACK_SCRIPT_H
#define SS_WRITER_ACK_SCRIPT_H

#define SS_WRITER_ACK_SCRIPT                                                                 \
    "local key = KEYS[1]\n"                                                                  \
    "local acked = redis.call('XACK', key, ARGV[1], unpack(ARGV, 2))\n"                      \
    "local function parse(id)\n"                                                             \
    "  local d = string.find(id, '-', 1, true)\n"                                            \
    "  if not d then return tonumber(id), 0 end\n"                                           \
    "  return tonumber(string.sub(id, 1, d - 1)), tonumber(string.sub(id, d + 1))\n"         \
    "end\n"                                                                                  \
    "local fm, fs\n"                                                                         \
    "for _, g in ipairs(redis.call('XINFO', 'GROUPS', key)) do\n"                            \
    "  local name, last\n"                                                                   \
    "  for i = 1, #g, 2 do\n"                                                                \
    "    if g[i] == 'name' then name = g[i + 1]\n"                                           \
    "    elseif g[i] == 'last-delivered-id' then last = g[i + 1] end\n"                      \
    "  end\n"                                                                                \
    "  local p = redis.call('XPENDING', key, name)\n"                                        \
    "  local m, s\n"                                                                         \
    "  if p[1] > 0 then m, s = parse(p[2]) else m, s = parse(last); s = s + 1 end\n"         \
    "  if not fm or m < fm or (m == fm and s < fs) then fm, fs = m, s end\n"                 \
    "end\n"                                                                                  \
    "if not fm or fm >= 2^53 or fs >= 2^53 then return {acked, 0} end\n"                     \
    "local trimmed = redis.call('XTRIM', key, 'MINID', string.format('%.0f-%.0f', fm, fs))\n" \
    "return {acked, trimmed}\n"

#endif
