"""Limit counters in Redis, shared by every gateway replica; each operation is one Lua script,
so checking every meter and counting on all of them is atomic across replicas.

Time comes from Redis (`TIME`), so replicas with skewed clocks still share one window.
Settling is idempotent (a per-lease marker), so a settle retried after a timeout never
double-counts. Budgets need Redis to persist (AOF, `appendfsync always`): a Redis restarted
without its data would forget what was spent.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import redis.asyncio as aioredis

from tripoint.limits.meters import Kind, Meter
from tripoint.limits.store import LEASE_SECONDS, Admission

PREFIX = "tp:"

_RESERVE = """
local t = redis.call('TIME')
local second = tonumber(t[1])
local now = second + tonumber(t[2]) / 1000000
local lease, lease_s = ARGV[1], tonumber(ARGV[2])
local used = {}
local function buckets(key, window)
  local all = redis.call('HGETALL', key)
  local list, total = {}, 0
  for j = 1, #all, 2 do
    local s, v = tonumber(all[j]), tonumber(all[j + 1])
    if s < second - window then
      redis.call('HDEL', key, all[j])
    else
      total = total + v
      list[#list + 1] = {s, v}
    end
  end
  return list, total
end
local function held(key, kind)
  local expired = redis.call('ZRANGEBYSCORE', key .. ':exp', '-inf', now, 'LIMIT', 0, 500)
  if #expired > 0 then
    redis.call('ZREM', key .. ':exp', unpack(expired))
    redis.call('HDEL', key .. ':amt', unpack(expired))
  end
  if kind == 'c' then return redis.call('ZCARD', key .. ':exp') end
  local total = tonumber(redis.call('GET', key .. ':spent') or '0')
  for _, v in ipairs(redis.call('HVALS', key .. ':amt')) do total = total + tonumber(v) end
  return total
end
for i = 1, #KEYS do
  local b = 2 + (i - 1) * 5
  local kind, limit, amount = ARGV[b + 1], tonumber(ARGV[b + 2]), tonumber(ARGV[b + 3])
  local window = tonumber(ARGV[b + 5])
  local current, list = 0, nil
  if kind == 'w' then
    list, current = buckets(KEYS[i], window)
  else
    current = held(KEYS[i], kind)
  end
  if current + amount > limit then
    local retry = -1
    if amount > limit then
      retry = -1
    elseif kind == 'w' then
      table.sort(list, function(a, c) return a[1] < c[1] end)
      local excess = current + amount - limit
      for _, bucket in ipairs(list) do
        excess = excess - bucket[2]
        if excess <= 0 then retry = math.floor((bucket[1] + window + 1 - now) * 1000); break end
      end
    elseif kind == 'c' then
      retry = 1000
    else
      retry = -2
    end
    return {0, i, retry}
  end
  used[i] = current + amount
end
for i = 1, #KEYS do
  local b = 2 + (i - 1) * 5
  local kind, amount, ttl = ARGV[b + 1], tonumber(ARGV[b + 3]), tonumber(ARGV[b + 4])
  local window = tonumber(ARGV[b + 5])
  local key = KEYS[i]
  if kind == 'w' then
    redis.call('HINCRBY', key, second, amount)
    redis.call('EXPIRE', key, window + 5)
  else
    redis.call('ZADD', key .. ':exp', now + lease_s, lease)
    redis.call('HSET', key .. ':amt', lease, amount)
    if ttl > 0 then
      redis.call('EXPIRE', key .. ':exp', ttl)
      redis.call('EXPIRE', key .. ':amt', ttl)
    end
  end
end
return {1, second, unpack(used)}
"""

_SETTLE = """
local lease, bucket = ARGV[1], ARGV[2]
if redis.call('SET', ARGV[3], '1', 'NX', 'EX', 3600) == false then return 0 end
for i = 1, #KEYS do
  local b = 3 + (i - 1) * 3
  local kind, reserved, actual = ARGV[b + 1], tonumber(ARGV[b + 2]), tonumber(ARGV[b + 3])
  local key = KEYS[i]
  if kind == 'w' then
    if redis.call('HEXISTS', key, bucket) == 1 then
      redis.call('HINCRBY', key, bucket, actual - reserved)
    end
  else
    local removed = redis.call('ZREM', key .. ':exp', lease)
    redis.call('HDEL', key .. ':amt', lease)
    if kind == 'b' and removed == 1 and actual > 0 then
      redis.call('INCRBY', key .. ':spent', actual)
    end
  end
end
return 1
"""


def _code(meter: Meter) -> str:
    if meter.windowed:
        return "w"
    return "c" if meter.kind is Kind.CONCURRENT else "b"


class RedisLimitStore:
    def __init__(self, client: aioredis.Redis) -> None:
        self._client = client
        self._reserve = client.register_script(_RESERVE)
        self._settle = client.register_script(_SETTLE)

    async def reserve(
        self, meters: Sequence[Meter], amounts: Sequence[int], lease: str
    ) -> Admission:
        keys = [PREFIX + m.key for m in meters]
        args: list[str | int | float] = [lease, int(LEASE_SECONDS)]
        for meter, amount in zip(meters, amounts, strict=True):
            args += [_code(meter), meter.limit, amount, _ttl(meter), meter.window]
        reply = await self._reserve(keys=keys, args=args)
        if int(reply[0]) == 1:
            return Admission(True, used=tuple(int(x) for x in reply[2:]), bucket=int(reply[1]))
        index, retry = int(reply[1]) - 1, int(reply[2])
        if retry == -2:  # a budget: spent until its period ends
            return Admission(False, index, _until(meters[index]))
        return Admission(False, index, retry / 1000 if retry >= 0 else None)

    async def settle(
        self,
        meters: Sequence[Meter],
        reserved: Sequence[int],
        actual: Sequence[int],
        lease: str,
        bucket: int,
    ) -> None:
        keys = [PREFIX + m.key for m in meters]
        args: list[str | int] = [lease, bucket, f"{PREFIX}settled:{lease}"]
        for meter, held, used in zip(meters, reserved, actual, strict=True):
            args += [_code(meter), held, used]
        await self._settle(keys=keys, args=args)


def _ttl(meter: Meter) -> int:
    """Budget counters outlive their period by a day; concurrency leases by their lease."""
    if meter.kind is Kind.CONCURRENT:
        return int(LEASE_SECONDS * 2)
    if meter.kind is Kind.BUDGET and meter.period_end is not None:
        return int(meter.period_end - time.time()) + 86_400
    return 0


def _until(meter: Meter) -> float | None:
    return None if meter.period_end is None else max(1.0, meter.period_end - time.time())
