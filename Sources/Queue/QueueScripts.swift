import Redis

/// The Lua scripts that implement the queue. Each runs atomically inside Redis, reads the clock
/// with `TIME` (one clock for the whole fleet), and touches only keys under the queue's hash tag,
/// `KEYS[1]` = `<prefix>:{<queue>}`, so they run unchanged on Redis Cluster.
///
/// Layout under the base key B:
/// - `B:seq` id and lease-token counter; `B:job:<id>` one job (type, payload, key, prio, max,
///   fails, enq, err, died, done, total); `B:juniq` job id → its uniqueness key (unique jobs only)
/// - `B:ready:<key>` ready jobs of one key, by priority then age
/// - `B:keys` keys with ready jobs, scored by when to look at them next (a rate limit or a pause
///   pushes the score into the future, so an idle key costs nothing until then)
/// - `B:active` leases: member "<id>|<token>" scored by expiry; only the holder knows the token
/// - `B:inflight` claimed jobs per key; `B:blocked` keys at their concurrency limit
/// - `B:delayed` jobs waiting for their run time; `B:dead` dead jobs by time of death
/// - `B:limits`, `B:conc` rate and concurrency limits per key group (the part of a key before ':')
/// - `B:rl:<key>:<window>` claim times inside one rate window
/// - `B:paused` key → paused until (ms; -1 until resumed); `B:qpaused` the whole queue is paused
/// - `B:uniq` uniqueness key → job id; `B:stats` counters; `B:wake` wake-ups for idle workers;
///   `B:cron:<schedule>` the last slot fired
/// - `B:learn` key → "rate|since|ceiling|lastDecrease": the rate a vendor really allows one key,
///   learned from its 429s (see `LearnedRate`); `B:pace` key → time of its last paced claim;
///   `B:rej:<key>` times of the key's recent 429s
///
/// Per-job work is kept to a minimum on the hot path: a claim reads each job with one HMGET and
/// records the batch's leases with one ZADD; an acknowledgement proves and drops the leases with
/// one ZREM and deletes the jobs with one DEL.
enum QueueScripts {
    static let prelude = """
    local B = KEYS[1]
    local t = redis.call('TIME')
    local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
    local function score(prio, enq) return (9 - tonumber(prio)) * 10000000000000 + tonumber(enq) end
    local function schedule(key, at)
      if redis.call('SISMEMBER', B..':blocked', key) == 1 then return end
      local p = redis.call('HGET', B..':paused', key)
      if p and tonumber(p) < 0 then return end
      redis.call('ZADD', B..':keys', 'NX', at, key)
    end
    local function make_ready(id, key, prio, enq)
      redis.call('ZADD', B..':ready:'..key, score(prio, enq), id)
      redis.call('HINCRBY', B..':stats', 'ready', 1)
      schedule(key, now)
    end
    local function free_slots(key, n)
      if redis.call('HINCRBY', B..':inflight', key, -n) <= 0 then redis.call('HDEL', B..':inflight', key) end
      if redis.call('SREM', B..':blocked', key) == 1 and redis.call('EXISTS', B..':ready:'..key) == 1 then schedule(key, now) end
    end
    local function holds(id, tok) return redis.call('ZSCORE', B..':active', id..'|'..tok) ~= false end
    local function drop_unique(id)
      local u = redis.call('HGET', B..':juniq', id)
      if u then
        if redis.call('HGET', B..':uniq', u) == id then redis.call('HDEL', B..':uniq', u) end
        redis.call('HDEL', B..':juniq', id)
      end
    end
    local function to_dead(id, reason)
      redis.call('HSET', B..':job:'..id, 'err', reason, 'died', now)
      redis.call('ZADD', B..':dead', now, id)
      drop_unique(id)
      redis.call('HINCRBY', B..':stats', 'dead', 1)
    end
    local function wake(n)
      for i = 1, n do redis.call('LPUSH', B..':wake', '1') end
      redis.call('LTRIM', B..':wake', 0, 15)
    end
    -- Learned rates (LearnedRate documents the rule; LearnedRateTests checks it against Redis).
    local L_FAST, L_PROBE, L_HOLD, L_MIN = 5000, 60000, 1000, 0.01
    -- The pace the documented limit allows (its shortest window: "3/s" of "3/s,10000/d"), and
    -- the longest window (its claim times tell what got through lately).
    local function documented(spec)
      local r, minwin, maxwin = nil, nil, 0
      for lim, win in string.gmatch(spec, '(%d+)/(%d+)') do
        win = tonumber(win)
        if not minwin or win < minwin then minwin = win; r = tonumber(lim) * 1000 / win end
        if win > maxwin then maxwin = win end
      end
      return r, maxwin
    end
    local function learned(key)
      local v = redis.call('HGET', B..':learn', key)
      if not v then return nil, 0 end
      local r0, t0, ceil, last = string.match(v, '^([^|]+)|([^|]+)|([^|]+)|([^|]+)$')
      r0, t0, ceil = tonumber(r0), tonumber(t0), tonumber(ceil)
      if not r0 or not t0 or not ceil then redis.call('HDEL', B..':learn', key); return nil, 0 end
      local dt = math.max(0, now - t0)
      -- Regain quickly to halfway between the new rate and the refused one (at most 0.95 of it),
      -- then probe up to the refused rate slowly, and past it faster and faster.
      local near = math.max(r0, math.min(0.95 * ceil, (r0 + ceil) / 2))
      if dt < L_FAST then return r0 + (near - r0) * dt / L_FAST, tonumber(last) or 0 end
      local x = (dt - L_FAST) / L_PROBE
      return near + (ceil - near) * x * x, tonumber(last) or 0
    end
    local function forget(key)
      redis.call('HDEL', B..':learn', key)
      redis.call('HDEL', B..':pace', key)
    end
    local function enqueue(jtype, payload, key, prio, maxa, delay, uniq)
      if uniq ~= '' then
        local cur = redis.call('HGET', B..':uniq', uniq)
        if cur then return '-'..cur end
      end
      local id = tostring(redis.call('INCR', B..':seq'))
      redis.call('HSET', B..':job:'..id, 'type', jtype, 'payload', payload, 'key', key, 'prio', prio,
        'max', maxa, 'fails', 0, 'enq', now)
      if uniq ~= '' then
        redis.call('HSET', B..':uniq', uniq, id)
        redis.call('HSET', B..':juniq', id, uniq)
      end
      if tonumber(delay) > 0 then
        redis.call('ZADD', B..':delayed', now + tonumber(delay), id)
      else
        make_ready(id, key, prio, now)
      end
      return id
    end

    """

    /// ARGV: n, then n × (type, payload, key, priority, maxAttempts, delayMs, uniqueKey).
    /// Returns one entry per job: its id, or "-<id>" of the pending copy when the unique key was taken.
    static let enqueue = RedisScript(prelude + """
    local n = tonumber(ARGV[1])
    local out = {}
    local ready, created = 0, 0
    for i = 0, n - 1 do
      local o = 2 + i * 7
      local id = enqueue(ARGV[o], ARGV[o+1], ARGV[o+2], ARGV[o+3], ARGV[o+4], ARGV[o+5], ARGV[o+6])
      out[#out+1] = id
      if string.sub(id, 1, 1) ~= '-' then
        created = created + 1
        if tonumber(ARGV[o+5]) <= 0 then ready = ready + 1 end
      end
    end
    redis.call('HINCRBY', B..':stats', 'enqueued', created)
    if ready > 0 then wake(math.min(ready, 16)) end
    return out
    """)

    /// ARGV: maxJobs, leaseMs, maxLimited. Promotes due delayed jobs, then claims up to maxJobs
    /// ready jobs from keys that have rate budget, free concurrency and no pause; at most
    /// maxLimited of them from rate-limited keys (those must start at once: their budget is spent
    /// now). Keys out of budget are re-scored to the moment budget returns.
    /// hintMs (when nothing was claimed): when to look again, or -1 when a rate-limited key has
    /// budget but the caller had no free handler for it.
    /// Returns {now, hintMs, token, then per key: key, limited (0/1), n, and n × (id, type, payload,
    /// attempt, enq)}.
    static let claim = RedisScript(prelude + """
    local want = tonumber(ARGV[1])
    local lease = tonumber(ARGV[2])
    local limitedCap = tonumber(ARGV[3])
    local out = {now, 0, ''}
    if redis.call('EXISTS', B..':qpaused') == 1 then out[2] = 60000; return out end
    local due = redis.call('ZRANGEBYSCORE', B..':delayed', '-inf', now, 'LIMIT', 0, 1000)
    for _, id in ipairs(due) do
      redis.call('ZREM', B..':delayed', id)
      local j = redis.call('HMGET', B..':job:'..id, 'key', 'prio', 'enq')
      if j[1] then make_ready(id, j[1], j[2], j[3]) end
    end
    local claimed, limitedTaken, capped = 0, 0, false
    local tok = tostring(redis.call('INCR', B..':seq'))
    local leases = {}
    local keys = redis.call('ZRANGEBYSCORE', B..':keys', '-inf', now, 'LIMIT', 0, 100)
    for _, key in ipairs(keys) do
      if claimed >= want then break end
      local take = want - claimed
      local nextAt = nil
      local blocked = false
      local group = string.match(key, '^([^:]+)') or key
      local p = redis.call('HGET', B..':paused', key)
      if p then
        p = tonumber(p)
        if p < 0 then take = 0; redis.call('ZREM', B..':keys', key)
        elseif p > now then take = 0; nextAt = p
        else redis.call('HDEL', B..':paused', key) end
      end
      local conc = redis.call('HGET', B..':conc', group)
      if take > 0 and conc then
        local avail = tonumber(conc) - tonumber(redis.call('HGET', B..':inflight', key) or '0')
        if avail <= 0 then take = 0; blocked = true elseif avail < take then take = avail end
      end
      local spec = redis.call('HGET', B..':limits', group)
      if take > 0 and spec then
        if limitedCap - limitedTaken < take then
          take = limitedCap - limitedTaken
          if take <= 0 then capped = true end
        end
      end
      local paced = false
      if take > 0 and spec then
        local r = learned(key)
        if r then
          if r >= documented(spec) then
            forget(key)
          else
            local last = tonumber(redis.call('HGET', B..':pace', key) or '0')
            local spacing = math.ceil(1000 / r)
            if now - last < spacing then take = 0; nextAt = last + spacing else take = 1; paced = true end
          end
        end
      end
      if take > 0 and spec then
        for lim, win in string.gmatch(spec, '(%d+)/(%d+)') do
          lim = tonumber(lim); win = tonumber(win)
          local lk = B..':rl:'..key..':'..win
          redis.call('ZREMRANGEBYSCORE', lk, '-inf', now - win)
          local used = redis.call('ZCARD', lk)
          if used >= lim then
            local e = redis.call('ZRANGE', lk, used - lim, used - lim, 'WITHSCORES')
            local at = tonumber(e[2]) + win + 1
            if not nextAt or at > nextAt then nextAt = at end
            take = 0
          elseif lim - used < take then take = lim - used end
        end
      end
      if take > 0 then
        local popped = redis.call('ZPOPMIN', B..':ready:'..key, take)
        local got = #popped / 2
        local stamps = {}
        out[#out+1] = key; out[#out+1] = spec and 1 or 0; out[#out+1] = got
        for i = 1, #popped, 2 do
          local id = popped[i]
          local f = redis.call('HMGET', B..':job:'..id, 'type', 'payload', 'enq', 'fails')
          out[#out+1] = id; out[#out+1] = f[1]; out[#out+1] = f[2]; out[#out+1] = tonumber(f[4]) + 1; out[#out+1] = f[3]
          leases[#leases+1] = now + lease; leases[#leases+1] = id..'|'..tok
          stamps[#stamps+1] = now; stamps[#stamps+1] = id..'.'..tok
        end
        if paced and got > 0 then
          redis.call('HSET', B..':pace', key, now)
          if redis.call('EXISTS', B..':ready:'..key) == 1 then nextAt = now + math.ceil(1000 / learned(key)) end
        end
        if spec then
          limitedTaken = limitedTaken + got
          for lim, win in string.gmatch(spec, '(%d+)/(%d+)') do
            local lk = B..':rl:'..key..':'..win
            redis.call('ZADD', lk, unpack(stamps))
            redis.call('PEXPIRE', lk, tonumber(win) + 1000)
          end
        end
        redis.call('HINCRBY', B..':inflight', key, got)
        redis.call('HINCRBY', B..':stats', 'ready', -got)
        claimed = claimed + got
        if redis.call('EXISTS', B..':ready:'..key) == 0 then
          redis.call('ZREM', B..':keys', key)
        elseif conc and tonumber(redis.call('HGET', B..':inflight', key)) >= tonumber(conc) then
          blocked = true
        elseif not nextAt then
          nextAt = now
        end
      end
      if blocked then
        redis.call('ZREM', B..':keys', key)
        redis.call('SADD', B..':blocked', key)
      elseif nextAt then
        redis.call('ZADD', B..':keys', nextAt, key)
      end
    end
    if claimed > 0 then
      out[3] = tok
      redis.call('ZADD', B..':active', unpack(leases))
    elseif capped then
      out[2] = -1
    else
      local hint = 60000
      local k = redis.call('ZRANGE', B..':keys', 0, 0, 'WITHSCORES')
      if k[2] then hint = math.min(hint, math.max(tonumber(k[2]) - now, 1)) end
      local d = redis.call('ZRANGE', B..':delayed', 0, 0, 'WITHSCORES')
      if d[2] then hint = math.min(hint, math.max(tonumber(d[2]) - now, 1)) end
      out[2] = hint
    end
    return out
    """)

    /// ARGV: triples of (id, token, key). Completes the jobs still leased under those tokens: they
    /// leave nothing behind but counters. Returns how many were acknowledged.
    static let ack = RedisScript(prelude + """
    -- One ZMSCORE tells which leases are still ours; a lost lease leaves its job alone.
    local leases = {}
    for i = 1, #ARGV, 3 do leases[#leases+1] = ARGV[i]..'|'..ARGV[i+1] end
    local scores = redis.call('ZMSCORE', B..':active', unpack(leases))
    local done, held, dels, perKey = {}, {}, {}, {}
    for n = 1, #leases do
      if scores[n] then
        local i = (n - 1) * 3 + 1
        done[#done+1] = ARGV[i]
        held[#held+1] = leases[n]
        dels[#dels+1] = B..':job:'..ARGV[i]
        perKey[ARGV[i+2]] = (perKey[ARGV[i+2]] or 0) + 1
      end
    end
    if #done == 0 then return 0 end
    redis.call('ZREM', B..':active', unpack(held))
    if redis.call('EXISTS', B..':juniq') == 1 then
      local uniq = redis.call('HMGET', B..':juniq', unpack(done))
      for n = 1, #done do
        if uniq[n] then
          if redis.call('HGET', B..':uniq', uniq[n]) == done[n] then redis.call('HDEL', B..':uniq', uniq[n]) end
          redis.call('HDEL', B..':juniq', done[n])
        end
      end
    end
    redis.call('DEL', unpack(dels))
    for key, n in pairs(perKey) do free_slots(key, n) end
    redis.call('HINCRBY', B..':stats', 'processed', #done)
    return #done
    """)

    /// ARGV: id, token, outcome ("retry" | "fatal" | "ratelimited" | "unavailable"), delayMs, message.
    /// retry: back to delayed (dead once attempts are used up); fatal: dead at once;
    /// ratelimited and unavailable: pause the job's key fleet-wide for delayMs and put the job back
    /// first in line without spending an attempt (a 429 also lowers the key's learned rate).
    /// Returns the job's new state.
    static let fail = RedisScript(prelude + """
    local id, tok, outcome, delay, msg = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5]
    if redis.call('ZREM', B..':active', id..'|'..tok) == 0 then return 'stale' end
    local j = B..':job:'..id
    local f = redis.call('HMGET', j, 'key', 'prio', 'enq', 'fails', 'max')
    free_slots(f[1], 1)
    if outcome == 'ratelimited' or outcome == 'unavailable' then
      local until_ = now + delay
      local cur = tonumber(redis.call('HGET', B..':paused', f[1]) or '0')
      if cur >= 0 and until_ > cur then redis.call('HSET', B..':paused', f[1], until_) end
      redis.call('HINCRBY', B..':stats', outcome, 1)
      redis.call('HSET', B..':job:'..id, 'err', msg)
      local spec = outcome == 'ratelimited' and redis.call('HGET', B..':limits', string.match(f[1], '^([^:]+)') or f[1])
      if spec then
        -- The vendor refused below the limit we paced to: learn a lower rate (at most once per
        -- L_HOLD, so one burst of refusals counts once): what it accepted lately, but no less than
        -- half and no more than 0.85 of the rate that was refused.
        local rk = B..':rej:'..f[1]
        redis.call('ZADD', rk, now, id..'.'..tok)
        redis.call('ZREMRANGEBYSCORE', rk, '-inf', now - 60000)
        redis.call('PEXPIRE', rk, 60000)
        local doc, maxwin = documented(spec)
        local r, last = learned(f[1])
        r = math.min(r or doc, doc)
        if now - last >= L_HOLD then
          local span = math.min(maxwin, 10000)
          local lk = B..':rl:'..f[1]..':'..maxwin
          local first = redis.call('ZRANGEBYSCORE', lk, now - span, now, 'WITHSCORES', 'LIMIT', 0, 1)
          if first[2] then span = math.max(1000, now - tonumber(first[2])) end
          local ok = redis.call('ZCOUNT', lk, now - span, now) - redis.call('ZCOUNT', rk, now - span, now)
          local seen = math.max(0, ok) * 1000 / span
          local nr = math.max(L_MIN, math.max(r * 0.5, math.min(r * 0.85, seen)))
          redis.call('HSET', B..':learn', f[1], string.format('%.6f|%d|%.6f|%d', nr, now, r, now))
          redis.call('HINCRBY', B..':stats', 'learned', 1)
        end
      end
      make_ready(id, f[1], f[2], f[3])
      redis.call('ZADD', B..':keys', 'GT', until_, f[1])
      return 'paused'
    end
    redis.call('HINCRBY', B..':stats', 'failed', 1)
    local fails = redis.call('HINCRBY', j, 'fails', 1)
    redis.call('HSET', j, 'err', msg)
    if outcome == 'fatal' or fails >= tonumber(f[5]) then
      to_dead(id, msg)
      return 'dead'
    end
    redis.call('ZADD', B..':delayed', now + delay, id)
    redis.call('HINCRBY', B..':stats', 'retried', 1)
    return 'retry'
    """)

    /// ARGV: leaseMs, then pairs of (id, token). Extends the leases still held; returns the ids
    /// whose lease was lost (reclaimed by another worker).
    static let extend = RedisScript(prelude + """
    local lease = tonumber(ARGV[1])
    local lost = {}
    for i = 2, #ARGV, 2 do
      local id, tok = ARGV[i], ARGV[i+1]
      if redis.call('ZADD', B..':active', 'XX', 'CH', now + lease, id..'|'..tok) == 0 and not holds(id, tok) then
        lost[#lost+1] = id
      end
    end
    return lost
    """)

    /// ARGV: pairs of (id, token). Puts still-leased jobs back at the head of their line without
    /// spending an attempt (graceful drain). Returns how many were released.
    static let release = RedisScript(prelude + """
    local n = 0
    for i = 1, #ARGV, 2 do
      local id, tok = ARGV[i], ARGV[i+1]
      if redis.call('ZREM', B..':active', id..'|'..tok) == 1 then
        local f = redis.call('HMGET', B..':job:'..id, 'key', 'prio', 'enq')
        free_slots(f[1], 1)
        make_ready(id, f[1], f[2], f[3])
        n = n + 1
      end
    end
    if n > 0 then wake(math.min(n, 16)) end
    return n
    """)

    /// ARGV: limit, crashLimit. Requeues jobs whose lease expired (their worker died), counting
    /// the lost run as a failed attempt; a job with no attempts left goes to the dead set, and so
    /// does a job whose worker was lost `crashLimit` times (it is likely what kills them: a poison
    /// pill is not handed to the next worker). Returns the number reclaimed.
    static let reclaim = RedisScript(prelude + """
    local expired = redis.call('ZRANGEBYSCORE', B..':active', '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
    for _, lease in ipairs(expired) do
      redis.call('ZREM', B..':active', lease)
      local id = string.match(lease, '^([^|]+)')
      local j = B..':job:'..id
      local f = redis.call('HMGET', j, 'key', 'prio', 'enq', 'max')
      if f[1] then
        free_slots(f[1], 1)
        redis.call('HINCRBY', B..':stats', 'stalled', 1)
        local crashes = redis.call('HINCRBY', j, 'crashes', 1)
        if redis.call('HINCRBY', j, 'fails', 1) >= tonumber(f[4]) then
          to_dead(id, 'worker lost the job (lease expired) on its last attempt')
        elseif crashes >= tonumber(ARGV[2]) then
          to_dead(id, 'crashed its worker '..crashes..' times (lease expired while running); not retried')
          redis.call('HINCRBY', B..':stats', 'crashed', 1)
        else
          make_ready(id, f[1], f[2], f[3])
        end
      end
    end
    if #expired > 0 then wake(math.min(#expired, 16)) end
    return #expired
    """)

    /// ARGV: id, token, done, total. Records progress while the lease is held.
    static let progress = RedisScript(prelude + """
    if not holds(ARGV[1], ARGV[2]) then return 0 end
    redis.call('HSET', B..':job:'..ARGV[1], 'done', ARGV[3], 'total', ARGV[4])
    return 1
    """)

    /// ARGV: id or "*" for all. Moves dead jobs back to ready with fresh attempts.
    static let retryDead = RedisScript(prelude + """
    local ids
    if ARGV[1] == '*' then ids = redis.call('ZRANGE', B..':dead', 0, -1) else ids = {ARGV[1]} end
    local n = 0
    for _, id in ipairs(ids) do
      if redis.call('ZREM', B..':dead', id) == 1 then
        local j = B..':job:'..id
        local f = redis.call('HMGET', j, 'key', 'prio', 'enq')
        redis.call('HSET', j, 'fails', 0, 'crashes', 0)
        redis.call('HDEL', j, 'died')
        make_ready(id, f[1], f[2], f[3])
        n = n + 1
      end
    end
    if n > 0 then wake(math.min(n, 16)) end
    return n
    """)

    /// ARGV: id or "*" for all. Deletes dead jobs for good.
    static let purgeDead = RedisScript(prelude + """
    local ids
    if ARGV[1] == '*' then ids = redis.call('ZRANGE', B..':dead', 0, -1) else ids = {ARGV[1]} end
    local n = 0
    for _, id in ipairs(ids) do
      if redis.call('ZREM', B..':dead', id) == 1 then redis.call('DEL', B..':job:'..id); n = n + 1 end
    end
    return n
    """)

    /// ARGV: key or "" for the whole queue. Pauses until resumed.
    static let pause = RedisScript(prelude + """
    if ARGV[1] == '' then redis.call('SET', B..':qpaused', '1'); return 1 end
    redis.call('HSET', B..':paused', ARGV[1], -1)
    redis.call('ZREM', B..':keys', ARGV[1])
    return 1
    """)

    /// ARGV: key or "" for the whole queue. Lifts a pause (also a 429 pause on that key).
    static let resume = RedisScript(prelude + """
    if ARGV[1] == '' then redis.call('DEL', B..':qpaused'); wake(16); return 1 end
    redis.call('HDEL', B..':paused', ARGV[1])
    redis.call('SREM', B..':blocked', ARGV[1])
    if redis.call('EXISTS', B..':ready:'..ARGV[1]) == 1 then
      redis.call('ZADD', B..':keys', now, ARGV[1])
      wake(16)
    end
    return 1
    """)

    /// ARGV: schedule name, slot (ms), then one job as in `enqueue`. Enqueues the job only if this
    /// slot is later than the last one fired for the schedule: exactly one firing per slot,
    /// however many schedulers call. The job records its slot (field `slot`). Returns the job id, or
    /// "" when the slot was already fired.
    static let fireCron = RedisScript(prelude + """
    local last = tonumber(redis.call('GET', B..':cron:'..ARGV[1]) or '-1')
    local slot = tonumber(ARGV[2])
    if slot <= last then return '' end
    redis.call('SET', B..':cron:'..ARGV[1], ARGV[2])
    local id = enqueue(ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9])
    if string.sub(id, 1, 1) ~= '-' then
      redis.call('HINCRBY', B..':stats', 'enqueued', 1)
      redis.call('HSET', B..':job:'..id, 'slot', ARGV[2])
    end
    wake(1)
    return id
    """)

    /// ARGV: a key, or none for every key. The keys with a learned rate: flat {key, rate now,
    /// documented rate, ceiling, since} (rates as text, requests per second).
    static let learnedRates = RedisScript(prelude + """
    local out = {}
    local all
    if ARGV[1] then
      local v = redis.call('HGET', B..':learn', ARGV[1])
      all = v and {ARGV[1], v} or {}
    else
      all = redis.call('HGETALL', B..':learn')
    end
    for i = 1, #all, 2 do
      local key = all[i]
      local spec = redis.call('HGET', B..':limits', string.match(key, '^([^:]+)') or key)
      local r = learned(key)
      if spec and r then
        local doc = documented(spec)
        local _, t0, ceil = string.match(all[i+1], '^([^|]+)|([^|]+)|([^|]+)|')
        if r < doc then
          out[#out+1] = key; out[#out+1] = string.format('%.6f', r); out[#out+1] = string.format('%.6f', doc)
          out[#out+1] = ceil; out[#out+1] = t0
        end
      end
    end
    return out
    """)

    /// No ARGV. Returns {now, ready, delayed, active, dead, paused(0/1), stats hash flat...}.
    static let stats = RedisScript(prelude + """
    local out = {now, tonumber(redis.call('HGET', B..':stats', 'ready') or '0'), redis.call('ZCARD', B..':delayed'),
      redis.call('ZCARD', B..':active'), redis.call('ZCARD', B..':dead'), redis.call('EXISTS', B..':qpaused')}
    local s = redis.call('HGETALL', B..':stats')
    for i = 1, #s do out[#out+1] = s[i] end
    return out
    """)
}
