package redisledger

import "github.com/redis/go-redis/v9"

// The keys of one budget, all under the hash tag {baar:<name>} so that they
// live in one Redis Cluster slot (P is the prefix "{baar:<name>}"):
//
//	P:epoch       the budget's identity: "<epoch>:c" (created by a first
//	              use) or "<epoch>:r" (re-initialized on purpose)
//	P:gen         the latest window generation seen
//	P:seq         the last reservation sequence number issued
//	P:open        hash: R → "amount:gen:expiry:key" of open reservations
//	P:lease       sorted set: R scored by lease expiry (ms)
//	P:w:<gen>     hash: spent, res, s:<key>, r:<key> of one window
//	P:x:<R>       "amount:gen:key" of a reservation whose lease expired
//	              (charged as spent), kept a day for a late settlement
//	P:tok         hash: T → "R:gen", the reservation made by the Reserve
//	              call whose request token is T
//	P:tokx        sorted set: T scored by its reservation's lease expiry (ms)
//	P:tokmin      the lease expiry up to which tokens were forgotten
//	P:ext         hash: R → "klim;ng;g1,g2,…" of an open reservation made
//	              with rate limits or alerts: its key's main limit (-1:
//	              none), how many of the rates are global, and the window
//	              generation of each rate limit (0: the rate does not apply)
//	P:xe:<R>      P:ext's record of a reservation whose lease expired
//	P:rw:<j>:<g>  hash: s:<key>, r:<key> (key "" the global budget's) of
//	              rate limit j in its window generation g
//
// The alert marks of a window are fields of P:w:<gen>: a:<ppm> for the
// global budget, a:<ppm>:<key> for a key's, set (HSETNX) by the commit that
// reached the threshold, in its script.
//
// R is "<epoch>:<seq>", the reservation's ID in Redis (the Go ID is
// epoch<<40 | seq). P:epoch, P:gen, P:seq and P:tokmin never expire;
// P:open, P:lease, P:tok and P:tokx vanish when empty; P:w:<gen> expires a
// day (and a lease) after its window ends, P:x:<R> a day after its lease
// expired.
//
// Every script first checks the identity (ident): a caller that has seen
// the budget under an epoch finds it, or the budget's state was lost
// (flushed, evicted, a restart without persistence) and the script fails
// with an error starting "BAARLOST", before writing anything.
//
// A Reserve is made idempotent by a random request token T: go-redis sends
// the same script with the same arguments again when a reply is lost
// (MaxRetries), and the network may deliver a request late, after its
// retry. The reserve script answers a token it remembers with the
// reservation it made then; it remembers each token for its reservation's
// lease, settled or not, and refuses, reserving nothing, a request whose
// lease expiry is not after P:tokmin (its token may have been forgotten).
// A Reserve thus reserves at most once, however often it is delivered.
//
// The epoch, gen, seq, open, lease, tok, tokx and tokmin keys are passed
// as KEYS; the window and expired-reservation keys are built by the
// scripts from the prefix, in the same slot. Amounts are passed and stored
// as decimal strings and only ever added with HINCRBY (exact int64); the
// Lua comparison limit − spent − reserved < amount uses doubles, exact
// while every figure is at most 2^53, and an overspent budget (spent >
// limit, which a settlement above its reservation can make exceed 2^53) is
// refused first by an exact comparison of the decimal strings.
// Redis does not roll back a script that fails half-way, so every script
// makes the write that could fail (an increment of spent past int64, which
// takes more than one absurd commit: a commit records at most 2^62) before
// any removal, so that a failed settlement leaves its reservation open.

// prelude is shared by the scripts: the identity check, argument helpers
// and the lease sweep.
const prelude = `
local function lost(why)
  error({err = 'BAARLOST ' .. why})
end

-- ident returns the budget's epoch, creating it (cand) on first use. want
-- is the epoch the caller has seen ('' if none) and hw the highest sequence
-- number it has been issued in it. A caller adopts an epoch re-initialized
-- on purpose; any other change of epoch, a missing one, or a sequence below
-- hw means the state it saw was lost.
local function ident(ekey, seqkey, want, cand, hw)
  local v = redis.call('GET', ekey)
  if not v then
    if want ~= '' then lost('the budget state is gone: its identity key is missing') end
    redis.call('SET', ekey, cand .. ':c')
    return cand
  end
  local e, how = string.match(v, '^(%d+):([cr])$')
  if not e then lost('the budget identity ' .. v .. ' was not written by redisledger') end
  if e == want then
    if tonumber(redis.call('GET', seqkey) or '0') < tonumber(hw) then
      lost('reservations this process was issued are gone: the state was rolled back')
    end
    return e
  end
  if want == '' or how == 'r' then return e end
  lost('the budget state was lost and created again (epoch ' .. want .. ' became ' .. e .. ')')
end

local function incr(h, field, amt, neg)
  if amt ~= '0' then
    if neg then amt = '-' .. amt end
    redis.call('HINCRBY', h, field, amt)
  end
end

-- book adjusts a window's sums: spent first (the only increment that could
-- fail), the key's spent (never above the total) next, then reservations.
local function book(w, key, res, resneg, spent, spentneg)
  if redis.call('EXISTS', w) == 0 then return end
  if spent then incr(w, 'spent', spent, spentneg) end
  if spent and key ~= '' then incr(w, 's:' .. key, spent, spentneg) end
  if res then incr(w, 'res', res, resneg) end
  if res and key ~= '' then incr(w, 'r:' .. key, res, resneg) end
end

-- gt compares two non-negative decimal integers exactly: a > b.
local function gt(a, b)
  if #a ~= #b then return #a > #b end
  return a > b
end

-- ratebook adjusts the rate windows a reservation holds, as book does a
-- window; x is its P:ext record.
local function ratebook(P, x, key, res, resneg, spent, spentneg)
  local ng, gens = string.match(x, '^%-?%d+;(%d+);(.*)$')
  if not ng then return end
  local j = 0
  for g in string.gmatch(gens, '(%d+)') do
    j = j + 1
    if g ~= '0' then
      local rw = P .. ':rw:' .. j .. ':' .. g
      if redis.call('EXISTS', rw) == 1 then
        local rk = ''
        if j > tonumber(ng) then rk = key end
        if spent then incr(rw, 's:' .. rk, spent, spentneg) end
        if res then incr(rw, 'r:' .. rk, res, resneg) end
      end
    end
  end
end

-- level is the spend at which threshold p (ppm) of limit lim is reached:
-- ceil(lim * p / 10^6), exact while lim ≤ 2^53.
local function level(lim, p)
  local r = lim % 1000000
  local x = r * p + 999999
  return (lim - r) / 1000000 * p + (x - x % 1000000) / 1000000
end

-- sweep charges as spent the open reservations whose lease expired by now,
-- and forgets the request tokens of the leases that ended.
local function sweep(P, now, retention)
  local toks = redis.call('ZRANGEBYSCORE', P .. ':tokx', '-inf', now, 'WITHSCORES', 'LIMIT', 0, 256)
  for i = 1, #toks, 2 do
    redis.call('HDEL', P .. ':tok', toks[i])
    redis.call('ZREM', P .. ':tokx', toks[i])
  end
  if #toks > 0 and tonumber(toks[#toks]) > tonumber(redis.call('GET', P .. ':tokmin') or '0') then
    redis.call('SET', P .. ':tokmin', toks[#toks])
  end
  local ids = redis.call('ZRANGEBYSCORE', P .. ':lease', '-inf', now, 'LIMIT', 0, 256)
  for _, id in ipairs(ids) do
    redis.call('ZREM', P .. ':lease', id)
    local v = redis.call('HGET', P .. ':open', id)
    if v then
      redis.call('HDEL', P .. ':open', id)
      local amt, g, _, key = string.match(v, '^(%d+):(%d+):(%d+):(.*)$')
      if amt then
        book(P .. ':w:' .. g, key, amt, true, amt, false)
        redis.call('SET', P .. ':x:' .. id, amt .. ':' .. g .. ':' .. key, 'PX', retention)
        local x = redis.call('HGET', P .. ':ext', id)
        if x then
          redis.call('HDEL', P .. ':ext', id)
          ratebook(P, x, key, amt, true, amt, false)
          redis.call('SET', P .. ':xe:' .. id, x, 'PX', retention)
        end
      end
    end
  end
end

-- generation returns the current generation: the caller's, never older
-- than the latest seen.
local function generation(genkey, g)
  local cur = redis.call('GET', genkey)
  if cur and tonumber(cur) >= tonumber(g) then return cur end
  redis.call('SET', genkey, g)
  return g
end
`

// reserveScript: KEYS gen, seq, open, lease, epoch, tok, tokx, tokmin; ARGV
// prefix, now ms, gen, amount, limit, key, key limit, lease expiry ms,
// retention ms, window TTL ms (0: none), the next window's TTL ms (for a
// caller whose clock is behind: the budget's window is already the next
// one, which must not be given this window's shorter life), the identity's
// want, cand, hw, then the request token (empty: none). It returns {1, seq,
// gen, epoch} — for a token it remembers, the reservation made then — or
// {0, scope (0 global, 1 key), spent, reserved, epoch} with the refusing
// budget's figures. Then (rate limits and alerts, all optional): the number
// of rate limits n, how many of them are global, for each its window
// generation (0: it does not apply), limit and window TTL ms, and last the
// key's main limit to remember for the alerts (-1: none) and whether to
// write the P:ext record ("1"). A key main limit of -1 (ARGV 7) means the
// key has rate limits only. A refusal by rate limit j is {0, 2, spent,
// reserved, epoch, j}.
var reserveScript = redis.NewScript(prelude + `
local P = ARGV[1]
local E = ident(KEYS[5], KEYS[2], ARGV[12], ARGV[13], ARGV[14])
local T = ARGV[15] or ''
if T ~= '' then
  local done = redis.call('HGET', KEYS[6], T)
  if done then
    local e, seq, g = string.match(done, '^(%d+):(%d+):(%d+)$')
    if e then return {1, tonumber(seq), tonumber(g), e} end
  end
  if tonumber(ARGV[8]) <= tonumber(redis.call('GET', KEYS[8]) or '0') then
    error({err = 'BAARSTALE a reservation request older than a lease (delivered late, or from a clock behind the others) is refused: it may have been served already'})
  end
end
sweep(P, ARGV[2], ARGV[9])
local g = generation(KEYS[1], ARGV[3])
local w = P .. ':w:' .. g
local amt, key = ARGV[4], ARGV[6]
local f = redis.call('HMGET', w, 'spent', 'res', 's:' .. key, 'r:' .. key)
local s, r = f[1] or '0', f[2] or '0'
if gt(s, ARGV[5]) or tonumber(ARGV[5]) - tonumber(s) - tonumber(r) < tonumber(amt) then
  return {0, 0, s, r, E}
end
if key ~= '' and ARGV[7] ~= '-1' then
  s, r = f[3] or '0', f[4] or '0'
  if gt(s, ARGV[7]) or tonumber(ARGV[7]) - tonumber(s) - tonumber(r) < tonumber(amt) then
    return {0, 1, s, r, E}
  end
end
local R, NG = tonumber(ARGV[16] or '0'), tonumber(ARGV[17] or '0')
for j = 1, R do
  local rg, lim = ARGV[15 + 3 * j], ARGV[16 + 3 * j]
  if rg ~= '0' then
    local rk = ''
    if j > NG then rk = key end
    local rf = redis.call('HMGET', P .. ':rw:' .. j .. ':' .. rg, 's:' .. rk, 'r:' .. rk)
    s, r = rf[1] or '0', rf[2] or '0'
    if gt(s, lim) or tonumber(lim) - tonumber(s) - tonumber(r) < tonumber(amt) then
      return {0, 2, s, r, E, j}
    end
  end
end
local seq = tonumber(redis.call('GET', KEYS[2]) or '0') + 1
if seq >= 1099511627776 then lost('reservation sequence numbers are exhausted (2^40)') end
redis.call('SET', KEYS[2], seq)
local id = E .. ':' .. seq
redis.call('HSET', KEYS[3], id, amt .. ':' .. g .. ':' .. ARGV[8] .. ':' .. key)
redis.call('ZADD', KEYS[4], ARGV[8], id)
if T ~= '' then
  redis.call('HSET', KEYS[6], T, id .. ':' .. g)
  redis.call('ZADD', KEYS[7], ARGV[8], T)
end
if R > 0 then
  local gens = {}
  for j = 1, R do
    local rg = ARGV[15 + 3 * j]
    gens[j] = rg
    if rg ~= '0' then
      local rk = ''
      if j > NG then rk = key end
      local rw = P .. ':rw:' .. j .. ':' .. rg
      redis.call('HINCRBY', rw, 'r:' .. rk, amt)
      redis.call('HSETNX', rw, 's:' .. rk, '0')
      local ttl = tonumber(ARGV[17 + 3 * j])
      if redis.call('PTTL', rw) < ttl then redis.call('PEXPIRE', rw, ttl) end
    end
  end
  if ARGV[19 + 3 * R] == '1' then
    redis.call('HSET', P .. ':ext', id, ARGV[18 + 3 * R] .. ';' .. NG .. ';' .. table.concat(gens, ','))
  end
elseif ARGV[19] == '1' then
  redis.call('HSET', P .. ':ext', id, ARGV[18] .. ';0;')
end
redis.call('HINCRBY', w, 'res', amt)
if key ~= '' then redis.call('HINCRBY', w, 'r:' .. key, amt) end
if ARGV[10] ~= '0' then
  if g == ARGV[3] then
    redis.call('PEXPIRE', w, ARGV[10])
  else
    local left = redis.call('PTTL', w)
    if left < 0 or left < tonumber(ARGV[11]) then redis.call('PEXPIRE', w, ARGV[11]) end
  end
end
return {1, seq, tonumber(g), E}
`)

// settleScript: KEYS as reserveScript's; ARGV prefix, epoch and
// seq of the reservation, amount, gen, commit (1) or cancel (0), actual,
// then the identity's want, cand, hw, and optionally the global limit and
// the alert thresholds in ppm. It returns 1 (settled), 2 (a late
// settlement corrected the charge of an expired reservation), 0 (already
// settled) or -1 (not issued by this ledger in its current epoch); with
// alert thresholds, a commit that settled returns {status, spent, key
// spent, key, key limit, fired}: fired has bit i set for the i-th threshold
// of the global budget marked by this commit, bit n+i for the key's.
var settleScript = redis.NewScript(prelude + `
local P = ARGV[1]
local E = ident(KEYS[5], KEYS[2], ARGV[8], ARGV[9], ARGV[10])
local id = ARGV[2] .. ':' .. ARGV[3]
local ramt, rgen, commit, actual = ARGV[4], ARGV[5], ARGV[6] == '1', ARGV[7]
-- marks sets the alert marks a commit reached in window w and returns the
-- answer (status alone without thresholds, or after a cancellation).
local function marks(status, w, key, x)
  if not commit or #ARGV < 12 then return status end
  local f = redis.call('HMGET', w, 'spent', 's:' .. key)
  local gs, ks = f[1] or '0', f[2] or '0'
  local klim = -1
  if x then klim = tonumber(string.match(x, '^(%-?%d+);') or '-1') end
  local n, fired, bit = #ARGV - 11, 0, 1
  local glim = tonumber(ARGV[11])
  if redis.call('EXISTS', w) == 1 then
    for i = 12, #ARGV do
      local p = tonumber(ARGV[i])
      if glim > 0 and tonumber(gs) >= level(glim, p) and redis.call('HSETNX', w, 'a:' .. ARGV[i], '1') == 1 then
        fired = fired + bit
      end
      if key ~= '' and klim > 0 and tonumber(ks) >= level(klim, p) and redis.call('HSETNX', w, 'a:' .. ARGV[i] .. ':' .. key, '1') == 1 then
        fired = fired + bit * 2 ^ n
      end
      bit = bit * 2
    end
  end
  return {status, gs, ks, key, tostring(klim), fired}
end
local v = redis.call('HGET', KEYS[3], id)
if v then
  local amt, g, _, key = string.match(v, '^(%d+):(%d+):(%d+):(.*)$')
  if amt ~= ramt or g ~= rgen then return -1 end
  local spent = nil
  if commit then spent = actual end
  book(P .. ':w:' .. g, key, amt, true, spent, false)
  local x = redis.call('HGET', P .. ':ext', id)
  if x then
    ratebook(P, x, key, amt, true, spent, false)
    redis.call('HDEL', P .. ':ext', id)
  end
  redis.call('HDEL', KEYS[3], id)
  redis.call('ZREM', KEYS[4], id)
  return marks(1, P .. ':w:' .. g, key, x)
end
v = redis.call('GET', P .. ':x:' .. id)
if v then
  local amt, g, key = string.match(v, '^(%d+):(%d+):(.*)$')
  if amt ~= ramt or g ~= rgen then return -1 end
  local w = P .. ':w:' .. g
  if commit then book(w, key, nil, false, actual, false) end
  book(w, key, nil, false, amt, true)
  local x = redis.call('GET', P .. ':xe:' .. id)
  if x then
    if commit then ratebook(P, x, key, nil, false, actual, false) end
    ratebook(P, x, key, nil, false, amt, true)
    redis.call('DEL', P .. ':xe:' .. id)
  end
  redis.call('DEL', P .. ':x:' .. id)
  return marks(2, w, key, x)
end
local n = tonumber(ARGV[3])
if ARGV[2] ~= E or n < 1 or n > tonumber(redis.call('GET', KEYS[2]) or '0') then return -1 end
return 0
`)

// stateScript: KEYS as reserveScript's; ARGV prefix, now ms,
// gen, key, retention ms, then the identity's want, cand, hw. It returns
// {gen, spent, reserved, key spent, key reserved, epoch}.
var stateScript = redis.NewScript(prelude + `
local P = ARGV[1]
local E = ident(KEYS[5], KEYS[2], ARGV[6], ARGV[7], ARGV[8])
sweep(P, ARGV[2], ARGV[5])
local g = generation(KEYS[1], ARGV[3])
local key = ARGV[4]
local f = redis.call('HMGET', P .. ':w:' .. g, 'spent', 'res', 's:' .. key, 'r:' .. key)
return {tonumber(g), f[1] or '0', f[2] or '0', f[3] or '0', f[4] or '0', E}
`)

// reinitScript: KEYS epoch; ARGV a new epoch. It marks the budget
// re-initialized on purpose under the new epoch (another than the current
// one), keeping whatever state is there, and returns the epoch.
var reinitScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
local e = ARGV[1]
if v and string.match(v, '^(%d+):') == e then e = tostring(tonumber(e) % 16777215 + 1) end
redis.call('SET', KEYS[1], e .. ':r')
return e
`)
