package io.autoglm.redis;

/**
 * The Lua scripts of {@link RedisRateLimiter}. Each runs atomically in Redis and reads the clock with {@code TIME},
 * so every instance sees one clock and one state per caller.
 *
 * <p>Keys: {@code KEYS[1]} a hash {@code r} (request level), {@code t} (token level), {@code ts} (refilled at, ms);
 * {@code KEYS[2]} a sorted set of held permits scored by their lease expiry (ms). Both expire once they would be
 * full again and nothing is held, so an idle caller costs nothing, exactly like a new one.
 */
final class RateLimitScripts {
  private RateLimitScripts() {}

  /**
   * Shared by both scripts: ARGV[1..6] = limReq, reqPerMs, reqBurst, limTok, tokPerMs, tokBurst, and the last ARGV
   * the caller's clock in ms, or empty for Redis's; sets now, r, tk. Waits are rounded up to whole ms (less 1e-6, so
   * a float just over a whole ms is not rounded past it). A clock reading older than the last refill (threads and
   * instances read their clocks before their calls reach Redis, so readings arrive out of order) counts as the last
   * refill's time: moving {@code ts} back would refill the time in between twice.
   */
  private static final String REFILL = """
      local now
      if ARGV[#ARGV] ~= '' then
        now = tonumber(ARGV[#ARGV])
      else
        local t = redis.call('TIME')
        now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
      end
      local limReq = ARGV[1] == '1'
      local reqPerMs = tonumber(ARGV[2])
      local reqBurst = tonumber(ARGV[3])
      local limTok = ARGV[4] == '1'
      local tokPerMs = tonumber(ARGV[5])
      local tokBurst = tonumber(ARGV[6])
      local h = redis.call('HMGET', KEYS[1], 'r', 't', 'ts')
      local r = tonumber(h[1]) or reqBurst
      local tk = tonumber(h[2]) or tokBurst
      local ts = tonumber(h[3]) or now
      if now < ts then now = ts end
      local el = now - ts
      if limReq then r = math.min(reqBurst, r + el * reqPerMs) end
      if limTok then tk = math.min(tokBurst, tk + el * tokPerMs) end
      local function save(idleMs)
        if limReq or limTok then
          redis.call('HSET', KEYS[1], 'r', tostring(r), 't', tostring(tk), 'ts', now)
          redis.call('PEXPIRE', KEYS[1], idleMs)
        end
      end
      """;

  /**
   * ARGV[7] reserved tokens, ARGV[8] max concurrent (0 = off), ARGV[9] permit id, ARGV[10] lease ms, ARGV[11] ms
   * until both buckets are full again. Returns {0, 0} admitted, or {limit, retry ms}: 1 requests, 2 tokens,
   * 3 concurrency.
   */
  static final String ACQUIRE = REFILL + """
      local reserved = tonumber(ARGV[7])
      local maxConc = tonumber(ARGV[8])
      if maxConc > 0 then
        redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
        if redis.call('ZCARD', KEYS[2]) >= maxConc then return {3, 0} end
      end
      local rw = 0
      local tw = 0
      if limReq and r < 1 then rw = math.ceil((1 - r) / reqPerMs - 1e-6) end
      if limTok and tk < reserved then tw = math.ceil((reserved - tk) / tokPerMs - 1e-6) end
      if rw > 0 or tw > 0 then
        if rw >= tw then return {1, rw} end
        return {2, tw}
      end
      if limReq then r = r - 1 end
      if limTok then tk = tk - reserved end
      save(tonumber(ARGV[11]))
      if maxConc > 0 then
        redis.call('ZADD', KEYS[2], now + tonumber(ARGV[10]), ARGV[9])
        redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[10]))
      end
      return {0, 0}
      """;

  /** ARGV[7] tokens to give back (reserved - used; negative charges more), ARGV[8] permit id, ARGV[9] idle ms. */
  static final String RELEASE = REFILL + """
      redis.call('ZREM', KEYS[2], ARGV[8])
      if limTok then tk = math.min(tokBurst, tk + tonumber(ARGV[7])) end
      save(tonumber(ARGV[9]))
      return 0
      """;
}
